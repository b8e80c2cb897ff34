// The tunnel's own TCP connection through a proxy, as OpenVPN 2.6 does it for --http-proxy and
// --socks-proxy (openvpn(8) "Client options"; OpenVPN proxy.c / socks.c): HTTP CONNECT (RFC 9110
// §9.3.6, see http-connect.ts for its Basic / Digest / NTLM authentication and the
// http-proxy-option extras), or SOCKS5 CONNECT (RFC 1928 §4–6) with no authentication or username/password
// (RFC 1929). The VPN server's name goes to the proxy unresolved (the proxy resolves it); the
// proxy's own name is resolved locally by the caller. On success the socket is handed back
// paused, with any bytes the proxy sent after its reply, for the OpenVPN stream framing.
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { formatIp, parseIp } from '../netstack/addr.js'
import { HandshakeReader } from './proxy-reader.js'
import { chooseAuth, hostPort, httpConnectHandshake, ProxyAuthRequired, type HttpAuthPlan, type HttpProxySpec, type ProxyCredentials } from './http-connect.js'
import { pickDigest } from './proxy-auth.js'
import { codeOf } from './udp.js'

export type { HttpProxyAuthMode, HttpProxySpec, ProxyCredentials, HttpProxyResponse } from './http-connect.js'
export { httpConnectRequest, parseHttpProxyResponse, ProxyAuthRequired, MAX_PROXY_HEADER } from './http-connect.js'

export interface SocksProxySpec {
  type: 'socks5'
  host: string
  port: number
  credentials?: ProxyCredentials
}

export type ProxySpec = HttpProxySpec | SocksProxySpec

export interface ProxyConnectOptions {
  /** The proxy's address, already resolved (IP literal) and its family. */
  address: string
  family?: 4 | 6
  /** Where the proxy should connect: the VPN server, by name or address. */
  target: { host: string; port: number }
  signal?: AbortSignal
  /** Connect + handshake deadline in ms (default 10 s). */
  timeoutMs?: number
}

export interface ProxiedSocket {
  /** Connected through the proxy; paused, with no listeners of ours left on it. */
  socket: Socket
  /** Bytes that arrived after the proxy's reply (already the tunnel's stream). */
  leftover: Uint8Array
  /** e.g. "http-proxy 127.0.0.1:3128" */
  via: string
}


export function describeProxy(p: ProxySpec): string {
  return `${p.type === 'http' ? 'http-proxy' : 'socks-proxy'} ${hostPort(p.host, p.port)}`
}

/** Open a TCP connection to the proxy and run its handshake; the socket is destroyed on failure. */
export async function connectViaProxy(proxy: ProxySpec, o: ProxyConnectOptions): Promise<ProxiedSocket> {
  const via = describeProxy(proxy)
  if (proxy.type === 'socks5') return attempt(proxy, o, via, (r, s) => socks5Handshake(proxy, o.target, r, s))
  return connectHttp(proxy, o, via)
}

/** HTTP CONNECT under the spec's authentication mode (http-connect.ts does one attempt). */
async function connectHttp(proxy: HttpProxySpec, o: ProxyConnectOptions, via: string): Promise<ProxiedSocket> {
  const run = (plan: HttpAuthPlan) => attempt(proxy, o, via, (r, s) => httpConnectHandshake(proxy, o.target, r, s, plan, via))
  const mode = proxy.authMode
  if ((mode === 'basic' || mode === 'ntlm2') && !proxy.credentials) throw new BurrowError(ErrorCode.ERR_CONFIG, `${via}: ${mode === 'basic' ? 'Basic' : 'NTLM'} authentication needs a username and password`)
  if (mode === 'basic') return run({ kind: 'basic' })
  if (mode === 'ntlm2') return run({ kind: 'ntlm' })
  if (mode === 'none') return run({ kind: 'none' })
  // auto / auto-nct: ask without credentials first, answer the 407 on a new connection (asking
  // the user for the login at this point when the config has none)
  try {
    return await run({ kind: 'none' })
  } catch (e) {
    if (!(e instanceof ProxyAuthRequired)) throw e
    const plan = chooseAuth(mode, e.challenges)
    if (!plan) throw e
    if (!proxy.credentials) {
      if (!proxy.askCredentials) throw e
      proxy.credentials = await proxy.askCredentials()
    }
    try {
      return await run(plan)
    } catch (e2) {
      // RFC 7616 §3.3: stale=true means only the nonce expired; answer the fresh one once
      const fresh = e2 instanceof ProxyAuthRequired && plan.kind === 'digest' ? pickDigest(e2.challenges) : undefined
      if (fresh && fresh.params.stale?.toLowerCase() === 'true') return run({ kind: 'digest', challenge: fresh })
      throw e2
    }
  }
}

type Handshake<T> = (r: HandshakeReader, s: Socket) => Promise<T>

/** Connect to the proxy and run `handshake` under the deadline; the socket is destroyed on failure. */
function attempt<T = void>(proxy: ProxySpec, o: Omit<ProxyConnectOptions, 'target'>, via: string, handshake: Handshake<T>): Promise<ProxiedSocket & { result: T }> {
  return new Promise<ProxiedSocket & { result: T }>((resolve, reject) => {
    if (o.signal?.aborted) return reject(new BurrowError(ErrorCode.EABORTED, `${via}: connect aborted`))
    const sock = netConnect({ host: o.address, port: proxy.port, family: o.family })
    const reader = new HandshakeReader(sock, via)
    let done = false
    let result: T
    const finish = (err: Error | undefined) => {
      if (done) return
      done = true
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
      const leftover = reader.detach()
      if (err) {
        sock.on('error', () => {}) // nothing may escape from a socket we gave up on
        sock.destroy()
        reject(err instanceof BurrowError ? err : new BurrowError(codeOf(err), `${via}: ${err.message}`, { cause: err }))
      } else resolve({ socket: sock, leftover, via, result })
    }
    const onAbort = () => {
      const e = new BurrowError(ErrorCode.EABORTED, `${via}: connect aborted`)
      reader.fail(e)
      finish(e)
    }
    const timer = setTimeout(() => {
      const e = new BurrowError(ErrorCode.ETIMEDOUT, `${via}: no answer from the proxy within ${o.timeoutMs ?? 10_000} ms`)
      reader.fail(e)
      finish(e)
    }, o.timeoutMs ?? 10_000)
    o.signal?.addEventListener('abort', onAbort, { once: true })
    sock.once('connect', () => {
      sock.setNoDelay(true)
      handshake(reader, sock).then(
        (v) => {
          result = v
          finish(undefined)
        },
        (e: Error) => finish(e),
      )
    })
    // errors before 'connect' (refused, unreachable); later ones reach the handshake through the reader
    const onEarlyError = (e: Error) => finish(new BurrowError(codeOf(e), `${via}: cannot connect to the proxy: ${e.message}`, { cause: e }))
    sock.once('error', onEarlyError)
    sock.once('connect', () => sock.off('error', onEarlyError))
  })
}

// ------------------------------------------------------------------------------ SOCKS5

export const SOCKS5_REPLIES: Record<number, { text: string; code: ErrorCode }> = {
  1: { text: 'general SOCKS server failure', code: ErrorCode.ERR_PROTOCOL },
  2: { text: 'connection not allowed by ruleset', code: ErrorCode.ECONNREFUSED },
  3: { text: 'network unreachable', code: ErrorCode.ENETUNREACH },
  4: { text: 'host unreachable', code: ErrorCode.EHOSTUNREACH },
  5: { text: 'connection refused', code: ErrorCode.ECONNREFUSED },
  6: { text: 'TTL expired', code: ErrorCode.ETIMEDOUT },
  7: { text: 'command not supported', code: ErrorCode.ERR_PROTOCOL },
  8: { text: 'address type not supported', code: ErrorCode.ERR_PROTOCOL },
}

/** SOCKS5 address field (ATYP + address + port) for a host: IPv4, IPv6 or domain name. */
export function socks5Address(host: string, port: number): Uint8Array {
  const ip = isIP(host) ? parseIp(host) : null
  let addr: Uint8Array
  if (ip) addr = Uint8Array.from([ip.length === 4 ? 1 : 4, ...ip])
  else {
    const name = Buffer.from(host, 'utf8')
    if (name.length === 0 || name.length > 255) throw new BurrowError(ErrorCode.ERR_CONFIG, `socks-proxy: host name "${host}" must be 1..255 bytes`)
    addr = Uint8Array.from([3, name.length, ...name])
  }
  const out = new Uint8Array(addr.length + 2)
  out.set(addr)
  out[addr.length] = port >>> 8
  out[addr.length + 1] = port & 0xff
  return out
}

/** RFC 1928 §3 method negotiation and, when chosen, RFC 1929 username/password. */
async function socks5Negotiate(p: SocksProxySpec, r: HandshakeReader, s: Socket): Promise<void> {
  const via = describeProxy(p)
  const bad = (what: string) => new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: malformed SOCKS5 reply: ${what}`)
  // RFC 1928 §3: offer "no authentication", and username/password when we have credentials
  s.write(p.credentials ? Uint8Array.from([5, 2, 0, 2]) : Uint8Array.from([5, 1, 0]))
  const sel = await r.read(2)
  if (sel[0] !== 5) throw bad(`version ${sel[0]} in the method selection (expected 5)`)
  if (sel[1] === 0xff) throw new BurrowError(ErrorCode.ERR_AUTH, `${via}: the proxy accepts none of the offered authentication methods (${p.credentials ? 'none, username/password' : 'none; add an authfile to socks-proxy'})`)
  if (sel[1] === 2) {
    if (!p.credentials) throw bad('the proxy chose username/password, which was not offered')
    // RFC 1929 §2
    const u = Buffer.from(p.credentials.username, 'utf8')
    const pw = Buffer.from(p.credentials.password, 'utf8')
    if (u.length < 1 || u.length > 255 || pw.length > 255) throw new BurrowError(ErrorCode.ERR_CONFIG, `${via}: SOCKS5 username must be 1..255 bytes and password at most 255 bytes`)
    s.write(Uint8Array.from([1, u.length, ...u, pw.length, ...pw]))
    const st = await r.read(2)
    if (st[0] !== 1 && st[0] !== 5) throw bad(`version ${st[0]} in the username/password reply (expected 1)`)
    if (st[1] !== 0) throw new BurrowError(ErrorCode.ERR_AUTH, `${via}: the proxy rejected the username/password (status ${st[1]})`)
  } else if (sel[1] !== 0) throw bad(`the proxy chose method ${sel[1]}, which was not offered`)
}

async function socks5Handshake(p: SocksProxySpec, target: { host: string; port: number }, r: HandshakeReader, s: Socket): Promise<void> {
  await socks5Negotiate(p, r, s)
  // RFC 1928 §4: CONNECT
  const addr = socks5Address(target.host, target.port)
  const req = new Uint8Array(3 + addr.length)
  req.set([5, 1, 0])
  req.set(addr, 3)
  s.write(req)
  await readSocks5Reply(r, describeProxy(p), `CONNECT ${hostPort(target.host, target.port)}`)
}

/**
 * RFC 1928 §4/§7 UDP ASSOCIATE: returns the control connection (the association lives as long as
 * it does) and the relay address to send datagrams to. DST.ADDR/DST.PORT are sent as zeros (the
 * client's sending address is not known in advance, as OpenVPN does).
 */
export async function socks5UdpAssociate(p: SocksProxySpec, o: Omit<ProxyConnectOptions, 'target'>): Promise<{ control: Socket; relay: { host: string; port: number }; via: string }> {
  const via = describeProxy(p)
  const r = await attempt(p, o, via, async (reader, s) => {
    await socks5Negotiate(p, reader, s)
    s.write(Uint8Array.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]))
    return readSocks5Reply(reader, via, 'UDP ASSOCIATE')
  })
  let relay = r.result
  // an unspecified BND.ADDR means "the address you reached me on"
  if (relay.host === '0.0.0.0' || relay.host === '::') relay = { host: o.address, port: relay.port }
  if (relay.port === 0) {
    r.socket.destroy()
    throw new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: UDP ASSOCIATE reply names relay port 0`)
  }
  return { control: r.socket, relay, via }
}

/** Read an RFC 1928 §6 reply; returns the bound address (BND.ADDR, BND.PORT). */
export async function readSocks5Reply(r: HandshakeReader, via: string, what: string): Promise<{ host: string; port: number }> {
  const bad = (m: string) => new BurrowError(ErrorCode.ERR_PROTOCOL, `${via}: malformed SOCKS5 reply to ${what}: ${m}`)
  const h = await r.read(4)
  if (h[0] !== 5) throw bad(`version ${h[0]} (expected 5)`)
  if (h[2] !== 0) throw bad(`reserved byte ${h[2]} (expected 0)`)
  let len: number
  if (h[3] === 1) len = 4
  else if (h[3] === 4) len = 16
  else if (h[3] === 3) len = -1
  else throw bad(`unknown address type ${h[3]}`)
  if (h[1] !== 0) {
    const rep = SOCKS5_REPLIES[h[1]]
    throw new BurrowError(rep?.code ?? ErrorCode.ERR_PROTOCOL, `${via}: ${what} failed: ${rep ? rep.text : `reply code ${h[1]}`}`)
  }
  if (len < 0) len = (await r.read(1))[0]
  const a = await r.read(len + 2)
  const port = (a[len] << 8) | a[len + 1]
  let host: string
  if (h[3] !== 3) host = formatIp(a.subarray(0, len))
  else host = Buffer.from(a.subarray(0, len)).toString('latin1')
  return { host, port }
}
