// OpenVPN in-band control messages on the static-key data channel (OpenVPN 2.6 src/openvpn/ping.c
// ping_string; src/openvpn/occ.h/occ.c "options consistency check"): a 16-byte ping magic, and
// OCC messages = 16-byte OCC magic + 1-byte opcode (+ data). Neither is an IP packet.

import { fromHex } from '../core/bytes.js'

export const PING_MAGIC = fromHex('2a187bf3641eb4cb07ed2d0a981fc748')
export const OCC_MAGIC = fromHex('287f346bd4ef7a812d56b8d3afc5459c')

export const OccOp = {
  REQUEST: 0,
  REPLY: 1,
  MTU_LOAD_REQUEST: 2,
  MTU_LOAD: 3,
  MTU_REQUEST: 4,
  MTU_REPLY: 5,
  EXIT: 6,
} as const
export type OccOp = (typeof OccOp)[keyof typeof OccOp]

function startsWith(p: Uint8Array, magic: Uint8Array): boolean {
  if (p.length < magic.length) return false
  for (let i = 0; i < magic.length; i++) if (p[i] !== magic[i]) return false
  return true
}

export function isPing(p: Uint8Array): boolean {
  return p.length === PING_MAGIC.length && startsWith(p, PING_MAGIC)
}

/** The OCC opcode of a payload, or -1 if it is not an OCC message. */
export function occOpcode(p: Uint8Array): number {
  return p.length > OCC_MAGIC.length && startsWith(p, OCC_MAGIC) ? p[OCC_MAGIC.length] : -1
}

export function buildOcc(op: OccOp, data?: string): Uint8Array {
  const extra = data === undefined ? new Uint8Array(0) : new TextEncoder().encode(data + '\0')
  const out = new Uint8Array(OCC_MAGIC.length + 1 + extra.length)
  out.set(OCC_MAGIC, 0)
  out[OCC_MAGIC.length] = op
  out.set(extra, OCC_MAGIC.length + 1)
  return out
}

function v4And(a: string, m: string): string {
  const x = a.split('.').map(Number)
  const y = m.split('.').map(Number)
  return x.map((v, i) => v & y[i]).join('.')
}

/**
 * The options string OpenVPN compares in OCC (options.c options_string), static-key subset; link-mtu =
 * tun-mtu + HMAC + IV + packet-id + one padding block (+2 on TCP), as OpenVPN 2.6 prints it.
 */
export function occOptionsString(o: {
  proto: 'udp' | 'tcp'
  server: boolean
  tunMtu: number
  linkMtu: number
  ifconfig?: { local: string; remote?: string; netmask?: string }
  /** Our key direction (printed as "keydir N" when set). */
  keyDirection?: 0 | 1
  cipher: string
  auth: string
  keyBits: number
}): string {
  const proto = o.proto === 'udp' ? 'UDPv4' : o.server ? 'TCPv4_SERVER' : 'TCPv4_CLIENT'
  const parts = ['V4', 'dev-type tun', `link-mtu ${o.linkMtu}`, `tun-mtu ${o.tunMtu}`, `proto ${proto}`]
  // tun.c ifconfig_options_string: p2p prints "REMOTE LOCAL"; subnet prints "NETWORK NETMASK".
  if (o.ifconfig?.remote) parts.push(`ifconfig ${o.ifconfig.remote} ${o.ifconfig.local}`)
  else if (o.ifconfig?.netmask) parts.push(`ifconfig ${v4And(o.ifconfig.local, o.ifconfig.netmask)} ${o.ifconfig.netmask}`)
  if (o.keyDirection !== undefined) parts.push(`keydir ${o.keyDirection}`)
  parts.push(`cipher ${o.cipher}`, `auth ${o.auth}`, `keysize ${o.keyBits}`, 'secret')
  return parts.join(',')
}
