// Address helpers for .ovpn interpretation: IPv4 dotted quads and netmasks (RFC 4632 §3.1
// contiguous masks), IPv6 prefixes (RFC 4291 §2.3), as OpenVPN's --ifconfig/--route use them.

import { isIPv4, isIPv6 } from 'node:net'

export function v4ToInt(s: string): number | null {
  if (!isIPv4(s)) return null
  const p = s.split('.')
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0
}

export function intToV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`
}

/** Prefix length of a contiguous IPv4 netmask, or null when the mask is not contiguous. */
export function maskToPrefix(mask: string): number | null {
  const m = v4ToInt(mask)
  if (m === null) return null
  let prefix = 0
  while (prefix < 32 && (m & (0x80000000 >>> prefix)) !== 0) prefix++
  const rebuilt = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return rebuilt === m ? prefix : null
}

export function prefixToMask(prefix: number): string {
  return intToV4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)
}

/** Network address of `addr` under `prefix` (host bits cleared). */
export function v4Network(addr: string, prefix: number): string {
  const a = v4ToInt(addr) ?? 0
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return intToV4((a & m) >>> 0)
}

/** OpenVPN's heuristic (options.c, ifconfig sanity check): does this look like a netmask? */
export function looksLikeNetmask(s: string): boolean {
  const n = v4ToInt(s)
  return n !== null && (n & 0xff000000) >>> 0 === 0xff000000 && maskToPrefix(s) !== null
}

/** Parse "ADDR/PREFIX" (IPv6). */
export function parseV6Cidr(s: string): { address: string; prefix: number } | null {
  const slash = s.indexOf('/')
  const addr = slash < 0 ? s : s.slice(0, slash)
  const pfx = slash < 0 ? 128 : Number(s.slice(slash + 1))
  if (!isIPv6(addr) || !Number.isInteger(pfx) || pfx < 0 || pfx > 128 || (slash >= 0 && !/^\d+$/.test(s.slice(slash + 1)))) return null
  return { address: addr, prefix: pfx }
}

export { isIPv4, isIPv6 }
