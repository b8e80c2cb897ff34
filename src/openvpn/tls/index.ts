// Public surface of the OpenVPN 2.x TLS-mode client (see tunnel-tls.ts for the protocol flow).
export { OpenVpnTlsTunnel, createOpenVpnTlsTunnel, type OpenVpnTlsTunnelDeps } from './tunnel-tls.js'
export { tlsSettingsFromOvpn, parseUserPass, type OpenVpnTlsSettings } from './options.js'
export type { TlsCredentials } from './tls-session.js'
export type { PushedOptions } from './push.js'
