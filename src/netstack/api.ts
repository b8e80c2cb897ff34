// Public surface of the userspace TCP/IP stack. Addresses are strings at this boundary
// ("10.8.0.2", "fd00::2"); inside, the stack works on bytes.
import type { Cidr } from '../tunnel/types.js'
import type { Counters } from '../core/counters.js'

export interface TcpConnectOptions {
  /** IP literal (v4 or v6). Names are resolved by the caller (see Resolver). */
  host: string
  port: number
  localPort?: number
  /** Abort the connection attempt. */
  signal?: AbortSignal
  /** Give up after this many ms (default 20_000). */
  timeoutMs?: number
}

/**
 * One TCP connection. Hot-path API: synchronous callbacks, boolean backpressure.
 * Assign the callbacks right after connect()/accept; data arriving before onData is set is
 * kept in the receive buffer (the window shrinks), never dropped.
 */
export interface TcpConn {
  readonly localAddress: string
  readonly localPort: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** Queue bytes (copied). Returns false when the send buffer is full: wait for onDrain. */
  write(b: Uint8Array): boolean
  /** Half-close: send FIN after all queued data. */
  end(): void
  /** Abort with RST and release everything. */
  destroy(err?: Error): void
  /** Stop delivering data: the receive buffer fills and the advertised window shrinks. */
  pause(): void
  resume(): void
  /** Bytes queued but not yet acknowledged by the peer. */
  readonly bufferedAmount: number
  onData: ((b: Uint8Array) => void) | null
  /** The peer sent FIN (no more data will arrive). */
  onEnd: (() => void) | null
  /** Send buffer has room again after write() returned false. */
  onDrain: (() => void) | null
  /** Fully closed; err set on RST, timeout or ICMP error. Called exactly once. */
  onClose: ((err?: Error) => void) | null
  setKeepAlive(enable: boolean, initialDelayMs?: number): void
  setNoDelay(noDelay: boolean): void
}

export interface TcpListener {
  readonly port: number
  close(): void
}

export interface ListenTcpOptions {
  port: number
  /** Only accept from these sources (default: anyone). Others get RST. */
  allow?: Cidr[]
  backlog?: number
}

export interface UdpRemote {
  address: string
  port: number
}

export interface UdpSocket {
  readonly localPort: number
  /** Returns false if the datagram could not be queued (link full or too big); counted. */
  send(data: Uint8Array, address: string, port: number): boolean
  onMessage: ((data: Uint8Array, from: UdpRemote) => void) | null
  /** ICMP errors concerning this socket (port unreachable etc.). */
  onError: ((err: Error, from?: UdpRemote) => void) | null
  close(): void
}

export interface Resolver {
  /** A/AAAA lookup inside the tunnel. family 0 = both (IPv4 first). Rejects with ENOTFOUND. */
  lookup(name: string, family?: 0 | 4 | 6): Promise<string[]>
  /** The link is back after an outage: send outstanding queries again now (see DnsResolver). */
  relinked?(): void
}

export interface NetStackApi {
  readonly addresses: readonly Cidr[]
  readonly counters: Counters
  readonly resolver: Resolver
  connectTcp(opts: TcpConnectOptions): Promise<TcpConn>
  listenTcp(opts: ListenTcpOptions, onConnection: (c: TcpConn) => void): TcpListener
  openUdp(opts?: { localPort?: number; family?: 4 | 6 }): UdpSocket
  listenUdp(opts: { port: number; allow?: Cidr[] }): UdpSocket
  /** ICMP/ICMPv6 echo; resolves with RTT in ms, rejects with ETIMEDOUT. */
  ping(address: string, opts?: { timeoutMs?: number; size?: number }): Promise<number>
  /**
   * Replace our addresses (a reconnect assigned others). Connections on an address still present
   * are kept; TCP connections on a removed one close with ECONNRESET; UDP uses the new source.
   * Optional so that test doubles of this interface need not implement it (NetStack does).
   */
  setAddresses?(addresses: Cidr[]): void
  close(): void
}
