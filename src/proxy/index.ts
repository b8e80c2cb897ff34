// Local proxies (RFC 9110 HTTP forward proxy, RFC 1928/1929 SOCKS5, SOCKS4/4a) over a Dialer.
export { ProxyServer } from './server.js'
export type { ProxyServerOptions } from './server.js'
export { DirectDialer, RoutingDialer, RouteRefusedError, errorCode, normalizeHost } from './dialer.js'
export type { Dialer, UdpFlow, UdpPeer, DirectDialerOptions, RoutingDialerOptions } from './dialer.js'
export { HttpProxy } from './http.js'
export type { HttpProxyOptions } from './http.js'
