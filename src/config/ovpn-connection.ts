// What a <connection> block of an OpenVPN 2.6 client config may hold besides remote/proto/port
// (openvpn(8) "--connection"; OpenVPN options.c OPT_P_CONNECTION): its own proxy (http-proxy,
// http-proxy-option, socks-proxy; http-proxy-user-pass stays global), and per-connection options
// that have no effect for a userspace client here: those are warned about (file:line) and ignored.
import { ConfigError } from '../core/errors.js'
import { HARMLESS_IGNORED } from './ovpn-directives.js'
import type { OvpnDirective } from './ovpn-lexer.js'

/** Allowed in <connection> by OpenVPN, without effect for this client (or global-only here). */
const CONNECTION_IGNORED = new Set(['nobind', 'bind', 'local', 'lport', 'float', 'connect-retry', 'connect-timeout', 'server-poll-timeout', 'mtu-disc', 'link-mtu', 'tun-mtu', 'tun-mtu-extra', 'mssfix', 'explicit-exit-notify'])

const CONNECTION_PROXY_DIRECTIVES = new Set(['http-proxy', 'http-proxy-option', 'socks-proxy'])

/**
 * A directive inside <connection> other than remote/proto/port: true when it is one of the
 * block's proxy directives (kept for ovpn-proxy.ts), false when warned about and ignored;
 * throws a ConfigError for anything else.
 */
export function connectionDirective(x: OvpnDirective, warn: (d: OvpnDirective, msg: string) => void): boolean {
  if (CONNECTION_PROXY_DIRECTIVES.has(x.name)) return true
  const fail = (msg: string) => new ConfigError(x.file, x.line, x.name, msg)
  if (x.name === 'http-proxy-user-pass') throw fail('is a global option: put it outside the <connection> block (it serves every http-proxy)')
  if (CONNECTION_IGNORED.has(x.name)) warn(x, 'ignored inside <connection> (no effect for a userspace client, or set it outside the block)')
  else if (HARMLESS_IGNORED.has(x.name)) warn(x, 'ignored inside <connection>')
  else throw fail('not supported inside a <connection> block (remote, proto, port, http-proxy, http-proxy-option, socks-proxy, and options without effect here)')
  return false
}
