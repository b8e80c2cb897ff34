// Loads test/wireguard/vectors/vectors.txt, the output of vectors/wg_reference.py (an independent
// Python implementation of the WireGuard handshake over hashlib + pyca/cryptography). The fixed
// inputs below are the same as in that script.
import { readFileSync } from 'node:fs'
import { fromHex } from '../../src/core/bytes.js'

const text = readFileSync(new URL('./vectors/vectors.txt', import.meta.url), 'utf8')
const map = new Map<string, Uint8Array>()
for (const line of text.trim().split('\n')) {
  const [k, v] = line.split(' ')
  map.set(k, fromHex(v))
}

export function vec(name: string): Uint8Array {
  const v = map.get(name)
  if (!v) throw new Error(`no vector ${name}`)
  return v
}

const rep = (first: string, mid: string, last: string) => fromHex(first + mid.repeat(30) + last)
export const INPUTS = {
  Si_priv: rep('a8', '11', '51'),
  Sr_priv: rep('b0', '22', '62'),
  Ei_priv: rep('c0', '33', '73'),
  Er_priv: rep('d0', '44', '84'),
  psk: fromHex('55'.repeat(32)),
  timestamp: fromHex('400000006553f10a07000000'),
  I_i: 0x11223344,
  I_r: 0xaabbccdd,
  cookieSecret: fromHex('66'.repeat(32)),
  cookieNonce: fromHex('77'.repeat(24)),
  pkt: fromHex('4500001c00010000400100000a0900020a0900010800f7fe00010000'),
  pktBack: fromHex('4500001c00010000400100000a0900010a0900020800f7fe00010000'),
}
