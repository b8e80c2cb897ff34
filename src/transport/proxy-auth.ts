// HTTP proxy authentication challenges and Digest responses for the tunnel's CONNECT
// (RFC 9110 §11.6.1 Proxy-Authenticate / §11.3 challenge syntax; RFC 7616 Digest with MD5,
// MD5-sess, SHA-256, SHA-256-sess, qop "auth", userhash, opaque, stale; RFC 2069 no-qop form as
// RFC 2617 keeps it). OpenVPN 2.6 uses Digest only through "http-proxy … auto|auto-nct".
import { createHash, randomBytes } from 'node:crypto'
import { BurrowError, ErrorCode } from '../core/errors.js'

/** One challenge: scheme (lower case) with its auth-params (names lower case) or a token68. */
export interface AuthChallenge {
  scheme: string
  params: Record<string, string>
  token68?: string
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/

/**
 * Parse the values of every Proxy-Authenticate header (several challenges may share one value,
 * separated by commas). Quoted strings may hold escaped characters (quoted-pair). Returns what it
 * could parse up to the first syntax error (a proxy's garbage must not throw).
 */
export function parseChallenges(values: string[]): AuthChallenge[] {
  const out: AuthChallenge[] = []
  for (const v of values) parseOne(v, out)
  return out
}

function parseOne(s: string, out: AuthChallenge[]): void {
  let i = 0
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++
  }
  const token = (): string => {
    const st = i
    while (i < s.length && TCHAR.test(s[i])) i++
    return s.slice(st, i)
  }
  const quoted = (): string | null => {
    // at '"'
    i++
    let v = ''
    while (i < s.length) {
      const c = s[i++]
      if (c === '"') return v
      if (c === '\\') {
        if (i >= s.length) return null
        v += s[i++]
      } else v += c
    }
    return null
  }
  let cur: AuthChallenge | undefined
  while (i < s.length) {
    ws()
    if (s[i] === ',') {
      i++
      continue
    }
    if (i >= s.length) break
    const start = i
    const name = token()
    if (!name) return
    ws()
    if (s[i] === '=' && cur && !cur.token68) {
      // auth-param of the current challenge: name = ( token / quoted-string )
      i++
      ws()
      let value: string | null
      if (s[i] === '"') value = quoted()
      else value = token()
      if (value === null) return
      cur.params[name.toLowerCase()] = value
      continue
    }
    if (s[i] === '=' && !cur) return
    if (s[i] === '=' && cur?.token68) return
    // a new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    i = start + name.length
    cur = { scheme: name.toLowerCase(), params: {} }
    out.push(cur)
    ws()
    const t = /^[A-Za-z0-9\-._~+/]+=*/.exec(s.slice(i))
    if (t) {
      // token68 only when nothing but a comma or the end follows (else it is "name=value")
      const after = s.slice(i + t[0].length).replace(/^[ \t]*/, '')
      if (after === '' || after[0] === ',') {
        cur.token68 = t[0]
        i += t[0].length
      }
    }
  }
}

export const DigestAlgorithm = { MD5: 'MD5', MD5_SESS: 'MD5-sess', SHA256: 'SHA-256', SHA256_SESS: 'SHA-256-sess' } as const
export type DigestAlgorithm = (typeof DigestAlgorithm)[keyof typeof DigestAlgorithm]

/** The algorithm named by a challenge (case-insensitive), or null when not supported. */
export function digestAlgorithm(c: AuthChallenge): DigestAlgorithm | null {
  const a = (c.params.algorithm ?? 'MD5').toLowerCase()
  for (const v of Object.values(DigestAlgorithm)) if (v.toLowerCase() === a) return v
  return null
}

/** A Digest challenge we can answer: supported algorithm, a nonce, and qop "auth" or none. */
export function digestUsable(c: AuthChallenge): boolean {
  if (c.scheme !== 'digest' || !c.params.nonce || !digestAlgorithm(c)) return false
  return c.params.qop === undefined || qops(c).includes('auth')
}

const qops = (c: AuthChallenge) => (c.params.qop ?? '').split(',').map((x) => x.trim().toLowerCase())

/** Among the Digest challenges, the strongest usable one (SHA-256 over MD5, RFC 7616 §3.7). */
export function pickDigest(cs: AuthChallenge[]): AuthChallenge | undefined {
  const usable = cs.filter(digestUsable)
  const rank = (c: AuthChallenge) => (digestAlgorithm(c)!.startsWith('SHA-256') ? 2 : 1)
  return usable.sort((a, b) => rank(b) - rank(a))[0]
}

export interface DigestInput {
  challenge: AuthChallenge
  username: string
  password: string
  method: string
  uri: string
  /** Test hook; 16 random bytes, hex, otherwise. */
  cnonce?: string
  nc?: number
}

/** Quote a value for a quoted-string (escape '"' and '\\'); control characters cannot be sent. */
function q(v: string): string {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) throw new BurrowError(ErrorCode.ERR_CONFIG, 'Digest: the username and the proxy\'s parameters must not contain control characters')
  return `"${v.replace(/[\\"]/g, (c) => '\\' + c)}"`
}

/** The response value and the whole "Digest …" credentials for Proxy-Authorization (RFC 7616 §3.4). */
export function digestAuthorization(i: DigestInput): { response: string; header: string } {
  const c = i.challenge
  const alg = digestAlgorithm(c)
  if (!alg) throw new Error(`unsupported Digest algorithm ${c.params.algorithm}`)
  const h = (s: string) => createHash(alg.startsWith('SHA-256') ? 'sha256' : 'md5').update(s, 'utf8').digest('hex')
  const realm = c.params.realm ?? ''
  const nonce = c.params.nonce ?? ''
  const qop = c.params.qop !== undefined ? 'auth' : undefined
  const cnonce = i.cnonce ?? randomBytes(16).toString('hex')
  const nc = (i.nc ?? 1).toString(16).padStart(8, '0')
  // §3.4.2: A1 = user:realm:pass; the -sess variants hash it again with nonce and cnonce
  let ha1 = h(`${i.username}:${realm}:${i.password}`)
  if (alg.endsWith('-sess')) ha1 = h(`${ha1}:${nonce}:${cnonce}`)
  // §3.4.3: A2 = method:uri for qop "auth" (and without qop)
  const ha2 = h(`${i.method}:${i.uri}`)
  // §3.4.1, and RFC 2069's H(HA1:nonce:HA2) when the server sent no qop
  const response = qop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`)
  const userhash = (c.params.userhash ?? '').toLowerCase() === 'true'
  const parts = [`username=${q(userhash ? h(`${i.username}:${realm}`) : i.username)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(i.uri)}`]
  if (c.params.algorithm !== undefined) parts.push(`algorithm=${alg}`)
  parts.push(`response=${q(response)}`)
  if (c.params.opaque !== undefined) parts.push(`opaque=${q(c.params.opaque)}`)
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`)
  if (userhash) parts.push('userhash=true')
  return { response, header: `Digest ${parts.join(', ')}` }
}
