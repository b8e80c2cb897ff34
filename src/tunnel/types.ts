// The contracts between layers (see ARCHITECTURE.md): netstack ⇄ Link ⇄ Tunnel ⇄ Transport.
// Every tunnel (OpenVPN static/TLS, WireGuard, CONNECT-IP, IPsec) is a Link that carries whole IP
// packets; every transport (UDP, TCP, TLS, HTTP/2, QUIC) is message-oriented with framing hidden.

/** Everything the netstack knows of the outside world. */
export interface Link {
  /** Largest IP packet the link carries. */
  readonly mtu: number
  /** Bytes the tunnel wants free in front of every IP packet handed to send(). */
  readonly headroom: number
  /**
   * Send one IP packet. `pkt` may be a view into a larger buffer whose `byteOffset` leaves
   * `headroom` bytes in front: the tunnel may write its header there and encrypt in place,
   * so the caller must not reuse the buffer after send(). Returns false when the caller should
   * wait for onDrain before sending more (the packet itself was accepted).
   */
  send(pkt: Uint8Array): boolean
  /** Wire the receive path: rx gets whole IP packets (the netstack may keep the buffer). */
  attach(rx: (pkt: Uint8Array) => void, onDrain: () => void): void
}

export interface Cidr {
  address: string
  prefix: number
}

export interface TunnelInfo {
  /** Addresses assigned to this end of the tunnel (IPv4 and/or IPv6) with their prefix length. */
  addresses: Cidr[]
  /** Destinations reachable through the tunnel. 0.0.0.0/0 or ::/0 for a full tunnel. */
  routes: Cidr[]
  /** DNS servers inside the tunnel. */
  dns: string[]
  /** DNS search domains. */
  searchDomains: string[]
  /** Largest inner IP packet. */
  mtu: number
  /** Free-form description for status lines, e.g. "openvpn static-key udp 10.0.0.1:1194". */
  description?: string
}

export type TunnelEvent = 'up' | 'down' | 'error' | 'reconnecting'

export interface Tunnel extends Link {
  /** Handshake (if any) and bring the tunnel up. Rejects with a BurrowError naming the cause. */
  start(signal?: AbortSignal): Promise<TunnelInfo>
  close(): Promise<void>
  on(ev: TunnelEvent, fn: (arg?: unknown) => void): this
  readonly info: TunnelInfo | undefined
}

/** Message-oriented transport to the VPN server; framing (u16 length on TCP) hidden. */
export interface Transport {
  /** Returns false when the caller should slow down (the message itself was accepted). */
  send(msg: Uint8Array): boolean
  attach(rx: (msg: Uint8Array) => void, onClose: (err?: Error) => void, onDrain?: () => void): void
  close(): void
  /** Human-readable peer, e.g. "udp 10.0.0.1:1194". */
  readonly description: string
}
