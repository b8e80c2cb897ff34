// PROXY protocol version 2 header (haproxy "PROXY protocol" spec, section 2.2): tells the local
// service which VPN peer a forwarded flow came from.
import { isIP } from 'node:net'
import { parseIp } from '../netstack/addr.js'
import { writeU16 } from '../core/bytes.js'

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]
const CMD_PROXY = 0x21 // version 2, PROXY
const AF_INET = 0x10
const AF_INET6 = 0x20
const PROTO_STREAM = 0x01
const PROTO_DGRAM = 0x02

export function proxyV2Header(
  proto: 'tcp' | 'udp',
  src: { address: string; port: number },
  dst: { address: string; port: number },
): Uint8Array {
  const fam = isIP(src.address)
  if (fam === 0 || fam !== isIP(dst.address)) throw new Error('PROXY v2: source and destination must be IP literals of one family')
  const s = parseIp(src.address)!
  const d = parseIp(dst.address)!
  const alen = fam === 4 ? 12 : 36
  const out = new Uint8Array(16 + alen)
  out.set(SIGNATURE, 0)
  out[12] = CMD_PROXY
  out[13] = (fam === 4 ? AF_INET : AF_INET6) | (proto === 'tcp' ? PROTO_STREAM : PROTO_DGRAM)
  writeU16(out, 14, alen)
  out.set(s, 16)
  out.set(d, 16 + s.length)
  writeU16(out, 16 + 2 * s.length, src.port)
  writeU16(out, 18 + 2 * s.length, dst.port)
  return out
}
