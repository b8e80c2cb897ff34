// One local listener serving HTTP/1.1 (RFC 9110/9112), SOCKS5 (RFC 1928/1929) and SOCKS4/4a on
// the same port, told apart by the first byte: 0x05 SOCKS5, 0x04 SOCKS4, anything else HTTP
// (an HTTP request line starts with an ASCII method token).

import net from 'node:net'
import type { Socket } from 'node:net'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { silentLogger } from '../core/log.js'
import type { Dialer } from './dialer.js'
import { HttpProxy } from './http.js'
import { handleSocks4 } from './socks4.js'
import { handleSocks5 } from './socks5.js'
import type { SocksContext } from './socks5.js'

export interface ProxyServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string
  /** Port; 0 picks a free one. Default 0. */
  port?: number
  dialer: Dialer
  /** When set, HTTP needs Proxy-Authorization: Basic, SOCKS5 needs RFC 1929, SOCKS4 is refused. */
  auth?: { username: string; password: string }
  logger?: Logger
  counters?: Counters
  /** Which protocols this listener accepts. Default all three. */
  protocols?: { http?: boolean; socks5?: boolean; socks4?: boolean }
  /** A client must send its first byte / finish its SOCKS handshake within this. Default 30 s. */
  handshakeTimeoutMs?: number
  /** Destination connect timeout (HTTP → 504, SOCKS5 → TTL expired, SOCKS4 → rejected). Default 30 s. */
  connectTimeoutMs?: number
  /** Origin response-headers timeout for HTTP (→ 504). Default 60 s. */
  headersTimeoutMs?: number
  /** Longest silence allowed inside an HTTP response body from the origin. Default 5 min. */
  bodyTimeoutMs?: number
}

export class ProxyServer {
  private readonly server: net.Server
  private readonly http: HttpProxy
  private readonly socks: SocksContext
  private readonly sockets = new Set<Socket>()
  private readonly log: Logger
  private readonly protocols: { http: boolean; socks5: boolean; socks4: boolean }
  private readonly handshakeTimeoutMs: number
  private closing: Promise<void> | null = null

  constructor(private readonly opts: ProxyServerOptions) {
    this.log = opts.logger ?? silentLogger
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 30_000
    this.protocols = {
      http: opts.protocols?.http ?? true,
      socks5: opts.protocols?.socks5 ?? true,
      socks4: opts.protocols?.socks4 ?? true,
    }
    this.http = new HttpProxy({
      dialer: opts.dialer,
      auth: opts.auth,
      logger: this.log,
      counters: opts.counters,
      connectTimeoutMs: opts.connectTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs,
      bodyTimeoutMs: opts.bodyTimeoutMs,
      clientHeadersTimeoutMs: this.handshakeTimeoutMs,
    })
    this.socks = {
      dialer: opts.dialer,
      auth: opts.auth,
      logger: this.log,
      counters: opts.counters,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    }
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.onConnection(s))
  }

  /** Listen; resolves with the bound address. */
  start(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e)
      this.server.once('error', onErr)
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', onErr)
        this.server.on('error', (e) => this.log.error(`proxy listener: ${e.message}`))
        const a = this.server.address() as net.AddressInfo
        resolve({ address: a.address, port: a.port })
      })
    })
  }

  /** Stop listening and close every client connection (and the HTTP origin pool). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      for (const s of this.sockets) s.destroy()
      await this.http.close()
      await closed
    })()
    return this.closing
  }

  /** Number of client connections currently open. */
  get connections(): number {
    return this.sockets.size
  }

  private onConnection(sock: Socket): void {
    this.sockets.add(sock)
    sock.once('close', () => this.sockets.delete(sock))
    sock.on('error', (e) => this.log.debug(`proxy client ${sock.remoteAddress}: ${e.message}`))
    sock.setNoDelay(true)
    const timer = setTimeout(() => sock.destroy(), this.handshakeTimeoutMs)
    const onClose = () => clearTimeout(timer)
    const onEnd = () => sock.destroy() // EOF before the first byte
    sock.once('close', onClose)
    sock.once('end', onEnd)
    sock.once('data', (chunk: Buffer) => {
      clearTimeout(timer)
      sock.off('close', onClose)
      sock.off('end', onEnd)
      sock.pause()
      sock.unshift(chunk)
      const b = chunk[0]
      if (b === 0x05 && this.protocols.socks5) void handleSocks5(sock, this.socks)
      else if (b === 0x04 && this.protocols.socks4) void handleSocks4(sock, this.socks)
      else if (b !== 0x05 && b !== 0x04 && this.protocols.http) this.http.handle(sock)
      else {
        this.opts.counters?.inc('proxy.protocol_disabled')
        sock.destroy()
      }
    })
    sock.resume()
  }
}
