// IP address text forms: IPv4 dotted quad (RFC 791), IPv6 text (RFC 4291 §2.2, incl. "::" and an
// embedded dotted IPv4 tail) and canonical IPv6 output (RFC 5952 §4, mixed form for
// IPv4-mapped addresses per §5). CIDR prefixes per RFC 4632 / RFC 4291 §2.3.
import type { Cidr } from '../tunnel/types.js'

function parseV4Into(s: string, out: Uint8Array, at: number): boolean {
  let part = 0
  let digits = 0
  let val = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46 /* '.' sentinel */
    if (c === 46) {
      if (digits === 0 || part > 3) return false
      out[at + part++] = val
      val = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && val === 0) return false // no leading zeros ("01" is ambiguous: octal)
      val = val * 10 + (c - 48)
      if (val > 255 || ++digits > 3) return false
    } else return false
  }
  return part === 4
}

function parseV6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45) return null
  const out = new Uint8Array(16)
  const dbl = s.indexOf('::')
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null
  const head = dbl === -1 ? s : s.slice(0, dbl)
  const tail = dbl === -1 ? '' : s.slice(dbl + 2)
  const parseGroups = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return []
    const groups = part.split(':')
    const words: number[] = []
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4)
        if (!parseV4Into(g, v4, 0)) return null
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3])
        continue
      }
      if (g.length < 1 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return null
      words.push(parseInt(g, 16))
    }
    return words
  }
  const hw = parseGroups(head, dbl === -1)
  const tw = parseGroups(tail, true)
  if (!hw || !tw) return null
  if (dbl === -1) {
    if (hw.length !== 8) return null
  } else if (hw.length + tw.length > 7) return null
  for (let i = 0; i < hw.length; i++) {
    out[i * 2] = hw[i] >> 8
    out[i * 2 + 1] = hw[i] & 0xff
  }
  const start = 8 - tw.length
  for (let i = 0; i < tw.length; i++) {
    out[(start + i) * 2] = tw[i] >> 8
    out[(start + i) * 2 + 1] = tw[i] & 0xff
  }
  return out
}

/** Parse an IPv4 or IPv6 literal into 4 or 16 bytes; null if it is not one. */
export function parseIp(s: string): Uint8Array | null {
  if (typeof s !== 'string') return null
  if (s.includes(':')) return parseV6(s)
  const out = new Uint8Array(4)
  return parseV4Into(s, out, 0) ? out : null
}

/** 4, 6, or 0 when s is not an IP literal. */
export function ipFamily(s: string): 4 | 6 | 0 {
  const b = parseIp(s)
  return b === null ? 0 : b.length === 4 ? 4 : 6
}

/** Text form: dotted quad for 4 bytes, RFC 5952 canonical form for 16 bytes. */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
  if (b.length !== 16) throw new TypeError(`formatIp: ${b.length}-byte address`)
  // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 §5)
  let mapped = b[10] === 0xff && b[11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false
  if (mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  const w: number[] = []
  for (let i = 0; i < 8; i++) w.push((b[i * 2] << 8) | b[i * 2 + 1])
  // longest run (≥ 2) of zero words; the first one on ties (RFC 5952 §4.2.3)
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && w[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  if (bestStart === -1) return w.map((x) => x.toString(16)).join(':')
  const left = w.slice(0, bestStart).map((x) => x.toString(16)).join(':')
  const right = w.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':')
  return `${left}::${right}`
}

export function ipEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** "10.0.0.0/8", "fd00::/64", or a bare address (host prefix). Null when malformed. */
export function parseCidr(s: string): Cidr | null {
  if (typeof s !== 'string') return null
  const slash = s.indexOf('/')
  const addr = slash === -1 ? s : s.slice(0, slash)
  const b = parseIp(addr)
  if (!b) return null
  const max = b.length * 8
  let prefix = max
  if (slash !== -1) {
    const p = s.slice(slash + 1)
    if (!/^[0-9]{1,3}$/.test(p)) return null
    prefix = Number(p)
    if (prefix > max) return null
  }
  return { address: formatIp(b), prefix }
}

const cidrCache = new WeakMap<Cidr, Uint8Array | null>()

/** Whether addrBytes (4 or 16 bytes) lies inside c. Families never match each other. */
export function cidrContains(c: Cidr, addrBytes: Uint8Array): boolean {
  let net = cidrCache.get(c)
  if (net === undefined) {
    net = parseIp(c.address)
    cidrCache.set(c, net)
  }
  if (!net || net.length !== addrBytes.length) return false
  const prefix = Math.max(0, Math.min(c.prefix, net.length * 8))
  const full = prefix >> 3
  for (let i = 0; i < full; i++) if (net[i] !== addrBytes[i]) return false
  const rem = prefix & 7
  if (rem === 0) return true
  const mask = (0xff << (8 - rem)) & 0xff
  return (net[full] & mask) === (addrBytes[full] & mask)
}
