// HTTP/1.1 forward proxy: RFC 9110 (§7.6.1 hop-by-hop fields, §7.6.3 Via, §9.3.6 CONNECT,
// §11.7 proxy authentication with RFC 7617 Basic, §15.6.3 502, §15.6.5 504) and RFC 9112
// (§3.2.2 absolute-form, §3.2.3 authority-form). Requests are parsed by node:http; origins are
// reached through undici pooled connections whose connect function calls the Dialer.

import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream'
import { timingSafeEqual } from 'node:crypto'
import { Agent } from 'undici'
import { dialConnector } from './connector.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { ErrorCode } from '../core/errors.js'
import { RouteRefusedError, dialWithTimeout, errorCode, normalizeHost } from './dialer.js'
import type { Dialer } from './dialer.js'
import { closeWith, splice } from './stream.js'

export interface HttpProxyOptions {
  dialer: Dialer
  auth?: { username: string; password: string }
  logger: Logger
  counters?: Counters
  /** Abort an origin connect after this long → 504. Default 30 s. */
  connectTimeoutMs?: number
  /** Wait this long for the origin's response headers → 504. Default 60 s. */
  headersTimeoutMs?: number
  /** Idle time allowed between body chunks from the origin. Default 5 min. */
  bodyTimeoutMs?: number
  /** Idle client keep-alive connections are closed after this long. Default 30 s. */
  clientKeepAliveMs?: number
  /** Time a client has to send a complete request head. Default 30 s. */
  clientHeadersTimeoutMs?: number
  /** Pseudonym for the Via header. Default "burrow-proxy". */
  via?: string
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy-only ones that must not be forwarded. */
/** Methods a proxy may resend after a connection failure (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])
/** Errors of a connection that died under a request before any response arrived. */
const STALE_CONNECTION = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECLOSED', 'UND_ERR_CLOSED'])

export const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
])

/**
 * Filter a raw header list ([name, value, name, value, …]) for forwarding: drops the hop-by-hop
 * fields, those named by Connection (and Proxy-Connection), and any in `extra`.
 */
export function forwardHeaders(raw: readonly string[], extra: readonly string[] = []): string[] {
  const drop = new Set(HOP_BY_HOP)
  for (const e of extra) drop.add(e)
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase()
    if (n === 'connection' || n === 'proxy-connection')
      for (const tok of raw[i + 1]!.split(',')) {
        const t = tok.trim().toLowerCase()
        if (t) drop.add(t)
      }
  }
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) {
    if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!)
  }
  return out
}

/** Parse an authority-form target "host:port" / "[v6]:port"; null when malformed. */
export function parseAuthority(target: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/?#[\]@]+)):(\d{1,5})$/.exec(target)
  if (!m) return null
  const port = Number(m[3])
  if (port < 1 || port > 65535) return null
  return { host: m[1] ?? m[2]!, port }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** RFC 7617 Basic credentials check of a Proxy-Authorization value. */
export function checkBasic(value: string | undefined, auth: { username: string; password: string }): boolean {
  if (!value) return false
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(value)
  if (!m) return false
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return false
  return safeEqual(decoded.slice(0, i), auth.username) && safeEqual(decoded.slice(i + 1), auth.password)
}

const REALM = 'Basic realm="burrow-proxy", charset="UTF-8"'

/** The status a proxy answers for a failure to reach the origin, and why. */
export function statusForError(err: unknown): { status: number; reason: string } {
  const msg = err instanceof Error ? err.message : String(err)
  if (err instanceof RouteRefusedError) return { status: 403, reason: msg }
  const code = errorCode(err)
  if (code === ErrorCode.ETIMEDOUT || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return { status: 504, reason: `${code}: ${msg}` }
  return { status: 502, reason: code ? `${code}: ${msg}` : msg }
}

function rawResponse(status: number, statusText: string, body: string, extra: string[] = []): Buffer {
  const b = Buffer.from(body + '\n', 'utf8')
  const head = [
    `HTTP/1.1 ${status} ${statusText}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${b.length}`,
    'Connection: close',
    ...extra,
  ]
  return Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), b])
}

/** True when host:port is the address this client reached the proxy on (a request loop). */
function isSelf(sock: Socket, host: string, port: number): boolean {
  if (port !== sock.localPort) return false
  const h = normalizeHost(host).toLowerCase()
  const local = normalizeHost(sock.localAddress ?? '')
  if (h === local) return true
  const loop = (a: string) => a === 'localhost' || a === '::1' || /^127\./.test(a)
  return loop(h) && loop(local)
}

/** HTTP/1.1 forward proxy; feed it accepted sockets with handle(). */
export class HttpProxy {
  private readonly server: http.Server
  private readonly agent: Agent
  private readonly dialer: Dialer
  private readonly log: Logger
  private readonly via: string
  private readonly connectTimeoutMs: number
  private readonly clientHeadersTimeoutMs: number

  constructor(private readonly opts: HttpProxyOptions) {
    this.dialer = opts.dialer
    this.log = opts.logger
    this.via = `1.1 ${opts.via ?? 'burrow-proxy'}`
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000
    this.clientHeadersTimeoutMs = opts.clientHeadersTimeoutMs ?? 30_000
    // node:http enforces headersTimeout/requestTimeout only for servers it listens with itself; the
    // sockets here are handed over, so the first request head is timed with socket.setTimeout in
    // handle(), and idle keep-alive connections by keepAliveTimeout (also a socket timeout).
    this.server = http.createServer({ requestTimeout: 0, keepAliveTimeout: opts.clientKeepAliveMs ?? 30_000 })
    this.server.on('request', (req, res) => this.onRequest(req, res))
    this.server.on('connect', (req: IncomingMessage, sock: Duplex, head: Buffer) =>
      this.onConnect(req, sock as Socket, head),
    )
    this.server.on('upgrade', (req: IncomingMessage, sock: Duplex, head: Buffer) =>
      this.onUpgrade(req, sock as Socket, head),
    )
    this.server.on('clientError', (err: Error & { code?: string }, sock: Duplex) => {
      const s = sock as Socket
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return void s.destroy()
      this.opts.counters?.inc('http.bad_request')
      const [status, text] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout']
            : [400, 'Bad Request']
      this.log.debug(`http ${s.remoteAddress}: ${err.message}`)
      // Only answer when nothing of a response is on the wire yet.
      if ((s as Socket & { _httpMessage?: unknown })._httpMessage) return void s.destroy()
      closeWith(s, rawResponse(status, text, `${text}: ${err.message}`))
    })
    this.agent = new Agent({
      connect: dialConnector((host, port) => this.dial(normalizeHost(host), port)),
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
      keepAliveTimeout: 4_000,
      connections: 32,
    })
  }

  /** Serve an accepted client socket (its first bytes may have been unshifted back). */
  handle(sock: Socket): void {
    this.server.emit('connection', sock)
    // The sniffer paused the socket with the first bytes unshifted into its buffer: flowing mode
    // delivers them to the parser through the 'data' listener node:http installed.
    sock.resume()
    // Cleared when the head is complete (onRequest/onConnect/onUpgrade); on expiry node:http
    // destroys the socket (no 'timeout' listener on the server).
    sock.setTimeout(this.clientHeadersTimeoutMs)
  }

  /** Destroy the origin pool (client sockets belong to the caller). */
  async close(): Promise<void> {
    await this.agent.destroy()
    this.server.close()
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.opts.auth) return true
    const ok = checkBasic(req.headers['proxy-authorization'], this.opts.auth)
    if (!ok) this.opts.counters?.inc('http.auth_failed')
    return ok
  }

  /** dialer.connect with this proxy's connect timeout (→ ETIMEDOUT → 504). */
  private dial(host: string, port: number, outer?: AbortSignal): Promise<Duplex> {
    return dialWithTimeout(this.dialer, host, port, this.connectTimeoutMs, outer)
  }

  private fail(res: ServerResponse, status: number, reason: string): void {
    if (res.headersSent) return void res.destroy()
    const text = http.STATUS_CODES[status] ?? 'Error'
    const body = `${text}: ${reason}\n`
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      via: this.via,
    }
    if (status === 407) headers['proxy-authenticate'] = REALM
    // The request body may be unread: do not keep the connection.
    if (!res.req.complete) headers.connection = 'close'
    res.writeHead(status, headers)
    res.end(body)
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.socket.setTimeout(0)
    if (!this.authorized(req)) return this.fail(res, 407, 'proxy authentication required')
    const target = req.url ?? ''
    if (target.startsWith('/') || target === '*')
      return this.fail(res, 400, `origin-form request "${target.slice(0, 100)}": this is a proxy, send absolute-form (http://host/path)`)
    let url: URL
    try {
      url = new URL(target)
    } catch {
      return this.fail(res, 400, `malformed request target "${target.slice(0, 100)}"`)
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
      return this.fail(res, 400, `unsupported request target "${target.slice(0, 100)}"`)
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
    if (isSelf(req.socket, url.hostname, port)) return this.fail(res, 508, `request targets this proxy itself (${url.host})`)

    // Max-Forwards (RFC 9110 §7.6.2): a TRACE or OPTIONS with 0 left is answered here.
    const mfRaw = req.headers['max-forwards']
    const mf = typeof mfRaw === 'string' ? mfRaw.trim() : undefined
    if ((req.method === 'TRACE' || req.method === 'OPTIONS') && mf !== undefined && /^\d+$/.test(mf)) {
      if (Number(mf) === 0) return this.answerHere(req, res)
    }

    const headers = forwardHeaders(req.rawHeaders, ['host', 'expect', 'via', 'max-forwards'])
    // received-protocol is the version the client spoke to us (RFC 9110 §7.6.3)
    const via = req.httpVersion === '1.1' ? this.via : this.via.replace(/^1\.1/, req.httpVersion)
    headers.push('host', url.host, 'via', req.headers.via ? `${req.headers.via}, ${via}` : via)
    if (mf !== undefined && /^\d+$/.test(mf) && (req.method === 'TRACE' || req.method === 'OPTIONS'))
      headers.push('max-forwards', String(Number(mf) - 1))
    else if (mf !== undefined) headers.push('max-forwards', mf)
    const te = req.headers['transfer-encoding']
    const cl = req.headers['content-length']
    const hasBody = te !== undefined || (cl !== undefined && cl !== '0')

    const ac = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) ac.abort()
    })
    this.opts.counters?.inc('http.requests')
    this.log.debug(`http ${req.method} ${url.origin}${url.pathname}`)
    // (undici may throw synchronously on a header it refuses: treat it like any dispatch error)
    const send = () =>
      Promise.resolve().then(() =>
        this.agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: req.method as 'GET',
          headers,
          body: hasBody ? req : null,
          signal: ac.signal,
        }),
      )
    // A pooled connection the origin closed while the tunnel was down fails before any response
    // byte; a request without a body and with an idempotent method is retried on a fresh
    // connection (RFC 9112 §9.3.1), up to twice (the pool may hold more than one stale socket).
    const retryable = !hasBody && IDEMPOTENT.has(req.method ?? '')
    const attempt = (left: number): ReturnType<typeof send> =>
      send().catch((err: unknown) => {
        if (left > 0 && retryable && !ac.signal.aborted && STALE_CONNECTION.has(errorCode(err) ?? '')) {
          this.opts.counters?.inc('http.retry_stale')
          return attempt(left - 1)
        }
        throw err
      })
    attempt(2)
      .then(
        (r) => {
          if (res.destroyed) return void r.body.destroy()
          const raw: string[] = []
          for (const [k, v] of Object.entries(r.headers)) {
            if (v === undefined) continue
            for (const one of Array.isArray(v) ? v : [v]) raw.push(k, one)
          }
          const out = forwardHeaders(raw, ['via'])
          const vias = r.headers.via
          out.push('via', vias ? `${Array.isArray(vias) ? vias.join(', ') : vias}, ${this.via}` : this.via)
          const obj: Record<string, string | string[]> = {}
          for (let i = 0; i < out.length; i += 2) {
            const k = out[i]!
            const prev = obj[k]
            obj[k] = prev === undefined ? out[i + 1]! : [...(Array.isArray(prev) ? prev : [prev]), out[i + 1]!]
          }
          res.writeHead(r.statusCode, r.statusText || undefined, obj)
          pipeline(r.body, res, (err) => {
            if (err && !res.destroyed) res.destroy()
          })
        },
        (err: unknown) => {
          if (ac.signal.aborted) return
          const { status, reason } = statusForError(err)
          this.opts.counters?.inc(`http.status_${status}`)
          this.log.debug(`http ${req.method} ${url.origin}: ${status} ${reason}`)
          this.fail(res, status, reason)
        },
      )
  }

  /** TRACE echoes the request head (message/http); OPTIONS describes this proxy. */
  private answerHere(req: IncomingMessage, res: ServerResponse): void {
    req.resume()
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT', 'content-length': 0, via: this.via })
      return void res.end()
    }
    let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const n = req.rawHeaders[i]!
      if (!/^(proxy-authorization|authorization|cookie)$/i.test(n)) head += `${n}: ${req.rawHeaders[i + 1]}\r\n`
    }
    head += '\r\n'
    res.writeHead(200, { 'content-type': 'message/http', 'content-length': Buffer.byteLength(head), via: this.via })
    res.end(head)
  }

  private onConnect(req: IncomingMessage, sock: Socket, head: Buffer): void {
    sock.setTimeout(0)
    if (!this.authorized(req))
      return closeWith(
        sock,
        rawResponse(407, 'Proxy Authentication Required', 'proxy authentication required', [`Proxy-Authenticate: ${REALM}`]),
      )
    const t = parseAuthority(req.url ?? '')
    if (!t) return closeWith(sock, rawResponse(400, 'Bad Request', `malformed CONNECT target "${(req.url ?? '').slice(0, 100)}"`))
    if (isSelf(sock, t.host, t.port))
      return closeWith(sock, rawResponse(508, 'Loop Detected', `CONNECT targets this proxy itself (${req.url})`))
    const ac = new AbortController()
    const onGone = () => ac.abort()
    sock.once('close', onGone)
    sock.on('error', () => {})
    this.opts.counters?.inc('http.connect')
    this.dial(t.host, t.port, ac.signal).then(
      (up) => {
        sock.off('close', onGone)
        if (sock.destroyed) return void up.destroy()
        sock.write(`HTTP/1.1 200 Connection Established\r\nVia: ${this.via}\r\n\r\n`)
        this.log.debug(`http CONNECT ${req.url}`)
        if (head.length) up.write(head)
        splice(sock, up)
      },
      (err: unknown) => {
        sock.off('close', onGone)
        if (sock.destroyed) return
        const { status, reason } = statusForError(err)
        this.opts.counters?.inc(`http.status_${status}`)
        this.log.debug(`http CONNECT ${req.url}: ${status} ${reason}`)
        closeWith(sock, rawResponse(status, http.STATUS_CODES[status] ?? 'Error', reason))
      },
    )
  }

  /** Absolute-form request with Upgrade (e.g. WebSocket): forward the head, then splice. */
  private onUpgrade(req: IncomingMessage, sock: Socket, head: Buffer): void {
    sock.setTimeout(0)
    sock.on('error', () => {})
    if (!this.authorized(req))
      return closeWith(
        sock,
        rawResponse(407, 'Proxy Authentication Required', 'proxy authentication required', [`Proxy-Authenticate: ${REALM}`]),
      )
    let url: URL
    try {
      url = new URL(req.url ?? '')
      if (url.protocol !== 'http:') throw new Error('not http')
    } catch {
      return closeWith(sock, rawResponse(400, 'Bad Request', 'upgrade needs an absolute http:// target'))
    }
    const upgrade = req.headers.upgrade ?? ''
    const headers = forwardHeaders(req.rawHeaders, ['host', 'via'])
    headers.push('Host', url.host, 'Via', this.via, 'Connection', 'Upgrade', 'Upgrade', upgrade)
    let text = `${req.method} ${url.pathname}${url.search} HTTP/1.1\r\n`
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`
    text += '\r\n'
    this.dial(normalizeHost(url.hostname), Number(url.port) || 80).then(
      (up) => {
        if (sock.destroyed) return void up.destroy()
        up.write(text)
        if (head.length) up.write(head)
        splice(sock, up)
      },
      (err: unknown) => {
        const { status, reason } = statusForError(err)
        closeWith(sock, rawResponse(status, http.STATUS_CODES[status] ?? 'Error', reason))
      },
    )
  }
}
