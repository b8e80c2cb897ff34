// HTTP CONNECT through a proxy for the tunnel's TCP connection, as OpenVPN 2.6 --http-proxy does it
// (OpenVPN proxy.c; RFC 9110 §9.3.6 CONNECT, §11.6.1–11.7.1 Proxy-Authenticate/Authorization,
// §15.5.8 407): no authentication; Basic (RFC 7617) up front; NTLMv2 (MS-NLMP, ntlm.ts) on one
// kept-alive connection; "auto"/"auto-nct" answering a 407 with Digest (RFC 7616, proxy-auth.ts),
// NTLM or Basic (auto-nct never Basic). An HTTP/1.0 proxy closes after a 407, so Basic and Digest
// answer on a new connection; NTLM sends its negotiate message on a new kept-alive connection and
// its authenticate message on that same connection, after reading the 407's body.
import type { Socket } from 'node:net'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { parseNtlmChallenge, ntlmAuthenticate, ntlmNegotiate } from './ntlm.js'
import { digestAuthorization, parseChallenges, pickDigest, type AuthChallenge } from './proxy-auth.js'
import type { HandshakeReader } from './proxy-reader.js'

/**
 * How to authenticate to an HTTP proxy: none; basic (send credentials up front); ntlm2 (NTLMv2
 * from the start); auto (try without, answer a 407 with Digest, NTLM or Basic); auto-nct (auto,
 * but never clear-text Basic).
 */
export type HttpProxyAuthMode = 'none' | 'basic' | 'ntlm2' | 'auto' | 'auto-nct'

export interface ProxyCredentials {
  username: string
  password: string
}

export interface HttpProxySpec {
  type: 'http'
  host: string
  port: number
  authMode: HttpProxyAuthMode
  credentials?: ProxyCredentials
  /**
   * auto/auto-nct without credentials: called when a 407 offers a scheme we can answer, as
   * OpenVPN asks on its console then; the answer is kept in `credentials` for later connects.
   */
  askCredentials?: () => Promise<ProxyCredentials>
  /** HTTP version in the request line (http-proxy-option VERSION); default 1.0 as OpenVPN. */
  version?: '1.0' | '1.1'
  /** User-Agent header (http-proxy-option AGENT). */
  agent?: string
  /** Extra headers (http-proxy-option CUSTOM-HEADER), sent as written. */
  headers?: { name: string; value: string }[]
}

/** What one CONNECT attempt sends. */
export type HttpAuthPlan = { kind: 'none' } | { kind: 'basic' } | { kind: 'digest'; challenge: AuthChallenge } | { kind: 'ntlm' }

/** Longest proxy response header accepted. */
export const MAX_PROXY_HEADER = 16 * 1024
/** Longest 407 body read (and thrown away) before NTLM's third message. */
const MAX_PROXY_BODY = 64 * 1024

export const hostPort = (h: string, p: number) => `${h.includes(':') ? `[${h}]` : h}:${p}`

/** A 407 from the proxy, with the challenges it offered. */
export class ProxyAuthRequired extends BurrowError {
  /** Offered schemes, lower case, in order. */
  readonly schemes: string[]
  constructor(
    message: string,
    readonly challenges: AuthChallenge[],
  ) {
    super(ErrorCode.ERR_AUTH, message)
    this.name = 'ProxyAuthRequired'
    this.schemes = challenges.map((c) => c.scheme)
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * The CONNECT request OpenVPN-style: request line, Host (1.1), User-Agent, Proxy-Authorization,
 * custom headers. `auth`: true = Basic from the credentials, a string = that Proxy-Authorization
 * value. `keepAlive` asks an HTTP/1.0 proxy to keep the connection after a 407 (NTLM).
 */
export function httpConnectRequest(p: HttpProxySpec, target: { host: string; port: number }, auth: boolean | string, keepAlive = false): string {
  const authority = hostPort(target.host, target.port)
  const version = p.version ?? '1.0'
  const lines = [`CONNECT ${authority} HTTP/${version}`]
  if (version === '1.1') lines.push(`Host: ${authority}`)
  if (p.agent !== undefined) lines.push(`User-Agent: ${p.agent}`)
  if (keepAlive) lines.push('Proxy-Connection: Keep-Alive')
  if (typeof auth === 'string') lines.push(`Proxy-Authorization: ${auth}`)
  else if (auth && p.credentials) {
    const token = Buffer.from(`${p.credentials.username}:${p.credentials.password}`, 'utf8').toString('base64')
    lines.push(`Proxy-Authorization: Basic ${token}`)
  }
  for (const h of p.headers ?? []) {
    if (!TOKEN.test(h.name) || !FIELD_VALUE.test(h.value)) throw new BurrowError(ErrorCode.ERR_CONFIG, `http-proxy-option CUSTOM-HEADER: "${h.name}" is not a valid header`)
    lines.push(`${h.name}: ${h.value}`)
  }
  return lines.join('\r\n') + '\r\n\r\n'
}

export interface HttpProxyResponse {
  status: number
  reason: string
  headers: { name: string; value: string }[]
}

/** Parse the proxy's response header block (status line + fields); null when malformed. */
export function parseHttpProxyResponse(block: Uint8Array): HttpProxyResponse | null {
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('latin1')
  const lines = text.split('\r\n')
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0])
  if (!m) return null
  const headers: { name: string; value: string }[] = []
  for (const l of lines.slice(1)) {
    if (l === '') continue
    const i = l.indexOf(':')
    if (i <= 0 || !TOKEN.test(l.slice(0, i))) return null
    headers.push({ name: l.slice(0, i).toLowerCase(), value: l.slice(i + 1).trim() })
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers }
}

const challengesOf = (res: HttpProxyResponse) => parseChallenges(res.headers.filter((h) => h.name === 'proxy-authenticate').map((h) => h.value))

/**
 * The plan that answers a 407 in auto/auto-nct mode: Digest, then NTLM, then Basic (never Basic
 * for auto-nct). OpenVPN takes the first Proxy-Authenticate header it knows; choosing the
 * strongest offered instead never picks clear text when something better is on offer.
 */
export function chooseAuth(mode: HttpProxyAuthMode, cs: AuthChallenge[]): HttpAuthPlan | undefined {
  const digest = pickDigest(cs)
  if (digest) return { kind: 'digest', challenge: digest }
  if (cs.some((c) => c.scheme === 'ntlm')) return { kind: 'ntlm' }
  if (mode === 'auto' && cs.some((c) => c.scheme === 'basic')) return { kind: 'basic' }
  return undefined
}

/** Send one CONNECT with `auth` and read the response header (and, when asked, the body). */
async function exchange(p: HttpProxySpec, target: { host: string; port: number }, r: HandshakeReader, s: Socket, via: string, auth: boolean | string, keepAlive: boolean, readBody: boolean): Promise<HttpProxyResponse> {
  s.write(httpConnectRequest(p, target, auth, keepAlive))
  const res = parseHttpProxyResponse(await r.readHeader(MAX_PROXY_HEADER))
  if (!res) throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: not an HTTP response to CONNECT ${hostPort(target.host, target.port)}`)
  if (readBody && (res.status < 200 || res.status >= 300)) {
    const te = res.headers.find((h) => h.name === 'transfer-encoding')
    if (te) throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: the 407 body is sent with Transfer-Encoding ${te.value}; NTLM needs a Content-Length to keep the connection`)
    const cl = res.headers.find((h) => h.name === 'content-length')?.value ?? '0'
    if (!/^\d+$/.test(cl) || Number(cl) > MAX_PROXY_BODY) throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: bad or too large Content-Length ${JSON.stringify(cl)} in the proxy's ${res.status}`)
    if (Number(cl) > 0) await r.read(Number(cl))
  }
  return res
}

/** Run CONNECT with one authentication plan on one connection; resolves when the tunnel is open. */
export async function httpConnectHandshake(p: HttpProxySpec, target: { host: string; port: number }, r: HandshakeReader, s: Socket, plan: HttpAuthPlan, via: string): Promise<void> {
  const dest = hostPort(target.host, target.port)
  const creds = p.credentials
  let res: HttpProxyResponse
  if (plan.kind === 'ntlm') {
    if (!creds) throw new BurrowError(ErrorCode.ERR_CONFIG, `${via}: NTLM authentication needs a username and password`)
    // MS-NLMP §3.1.5.1.1: negotiate, then the challenge comes back in the 407 on this connection
    const first = await exchange(p, target, r, s, via, `NTLM ${Buffer.from(ntlmNegotiate()).toString('base64')}`, true, true)
    if (first.status >= 200 && first.status < 300) return
    if (first.status !== 407) return fail(p, first, dest, via, plan)
    const ntlm = challengesOf(first).find((c) => c.scheme === 'ntlm' && c.token68)
    if (!ntlm) throw new ProxyAuthRequired(`${via}: 407 for CONNECT ${dest} without an NTLM challenge after the NTLM negotiate message`, challengesOf(first))
    const ch = parseNtlmChallenge(new Uint8Array(Buffer.from(ntlm.token68!, 'base64')))
    if (!ch) throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: malformed NTLM challenge message from the proxy`)
    if (first.headers.some((h) => (h.name === 'connection' || h.name === 'proxy-connection') && /close/i.test(h.value))) {
      throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: the proxy closes the connection after its NTLM challenge (NTLM needs it kept alive)`)
    }
    const auth = ntlmAuthenticate({ challenge: ch, username: creds.username, password: creds.password })
    res = await exchange(p, target, r, s, via, `NTLM ${Buffer.from(auth).toString('base64')}`, true, false)
  } else {
    let auth: boolean | string = false
    if (plan.kind === 'basic') auth = true
    else if (plan.kind === 'digest') {
      if (!creds) throw new BurrowError(ErrorCode.ERR_CONFIG, `${via}: Digest authentication needs a username and password`)
      auth = digestAuthorization({ challenge: plan.challenge, username: creds.username, password: creds.password, method: 'CONNECT', uri: dest }).header
    }
    res = await exchange(p, target, r, s, via, auth, false, false)
  }
  if (res.status >= 200 && res.status < 300) return
  return fail(p, res, dest, via, plan)
}

function fail(p: HttpProxySpec, res: HttpProxyResponse, dest: string, via: string, plan: HttpAuthPlan): never {
  const what = `${res.status}${res.reason ? ' ' + res.reason : ''}`
  if (res.status === 407) {
    const cs = challengesOf(res)
    const schemes = cs.map((c) => c.scheme)
    const offered = schemes.length ? ` (it offers ${schemes.join(', ')})` : ''
    let hint: string
    const auto = p.authMode === 'auto' || p.authMode === 'auto-nct'
    if (plan.kind !== 'none') hint = `the proxy rejected the username/password (${plan.kind === 'ntlm' ? 'NTLM' : plan.kind === 'digest' ? 'Digest' : 'Basic'})`
    else if (!auto) hint = p.authMode === 'none' ? 'no credentials configured (http-proxy HOST PORT AUTHFILE [basic|ntlm2], or auto with <http-proxy-user-pass>)' : 'authentication required'
    else if (p.authMode === 'auto-nct' && schemes.includes('basic') && !chooseAuth('auto-nct', cs)) hint = 'auto-nct refuses clear-text Basic authentication'
    else if (!chooseAuth(p.authMode, cs)) hint = 'none of the offered authentication schemes is supported (Digest MD5/SHA-256 with qop auth, NTLM, Basic)'
    else if (!p.credentials) hint = 'no credentials configured (http-proxy HOST PORT AUTHFILE, or <http-proxy-user-pass>)'
    else hint = 'authentication required'
    throw new ProxyAuthRequired(`${via}: 407 Proxy Authentication Required for CONNECT ${dest}${offered}: ${hint}`, cs)
  }
  const code = res.status === 504 ? ErrorCode.ETIMEDOUT : res.status === 502 || res.status === 503 ? ErrorCode.ECONNREFUSED : ErrorCode.ERR_PROTOCOL
  throw new BurrowError(code, `${via}: CONNECT ${dest} failed: ${what}`)
}
