// The proxy directives of an OpenVPN 2.6 client config (openvpn(8) "Client options": --http-proxy,
// --http-proxy-user-pass, --http-proxy-option, --socks-proxy): the tunnel's own TCP connection to
// the server goes through an HTTP CONNECT or SOCKS5 proxy (src/transport/via-proxy.ts). A
// <connection> block may name its own proxy for its remote; the global one serves the others.
//   http-proxy HOST PORT [AUTHFILE|stdin|auto|auto-nct] [none|basic|ntlm2]   (ntlm = NTLMv1 refused)
//   http-proxy-user-pass FILE   or   <http-proxy-user-pass> user \n pass </http-proxy-user-pass>
//   http-proxy-option VERSION 1.0|1.1 | AGENT STRING | CUSTOM-HEADER NAME [CONTENT]
//   socks-proxy HOST [PORT=1080] [AUTHFILE|stdin]
import { ConfigError } from '../core/errors.js'
import type { HttpProxyAuthMode, HttpProxySpec, ProxyCredentials, ProxySpec } from '../transport/via-proxy.js'
import type { OvpnDirective } from './ovpn-lexer.js'

export interface OvpnProxy {
  /** The http-proxy / socks-proxy directive. */
  file: string
  line: number
  directive: 'http-proxy' | 'socks-proxy'
  spec: ProxySpec
  /**
   * Credentials still to be asked for interactively: authfile "stdin", or a file holding only
   * the username (then `username` is set). Until answered, spec.credentials is unset.
   */
  ask?: { username?: string }
}

const err = (d: OvpnDirective, msg: string) => new ConfigError(d.file, d.line, d.name, msg)

/** Username on line 1, password on line 2 (as auth-user-pass files); a missing password line is `undefined`. */
export function splitUserPass(text: string): { username: string; password?: string } {
  const lines = text.split(/\r?\n/)
  const username = (lines[0] ?? '').trim()
  const hasPassword = lines.length > 1 && !(lines.length === 2 && lines[1] === '')
  return { username, password: hasPassword ? lines[1] : undefined }
}

function port(d: OvpnDirective, s: string | undefined, dflt?: number): number {
  if (s === undefined && dflt !== undefined) return dflt
  if (s === undefined || !/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw err(d, `port must be a number in 1..65535, got ${s === undefined ? 'nothing' : JSON.stringify(s)}`)
  return Number(s)
}

/**
 * Interpret the proxy directives (in file order). `readText` reads an authfile named by a
 * directive (relative to the config) or an inline block; it throws a ConfigError naming d.
 * `sharedUserPass` is the global http-proxy-user-pass, applied to an http-proxy among `ds`
 * (OpenVPN allows http-proxy in <connection> blocks, http-proxy-user-pass only globally).
 */
export function parseProxyDirectives(ds: OvpnDirective[], readText: (d: OvpnDirective, name?: string) => string, sharedUserPass?: OvpnDirective): OvpnProxy | undefined {
  let http: OvpnDirective | undefined
  let socks: OvpnDirective | undefined
  let userPassD: OvpnDirective | undefined
  const options: OvpnDirective[] = []
  for (const d of ds) {
    if (d.name === 'http-proxy') http = d
    else if (d.name === 'socks-proxy') socks = d
    else if (d.name === 'http-proxy-user-pass') userPassD = d
    else options.push(d)
  }
  // a global http-proxy-user-pass given for a <connection> block's proxy (or the global one)
  userPassD ??= sharedUserPass
  if (http && socks) throw err(socks, 'cannot be combined with http-proxy (line ' + http.line + '): choose one proxy')
  if (!http) {
    const stray = (userPassD === sharedUserPass ? undefined : userPassD) ?? options[0]
    if (stray) throw err(stray, 'needs an http-proxy directive')
  }
  if (socks) return parseSocks(socks, readText)
  if (http) return parseHttp(http, userPassD, options, readText)
  return undefined
}

function credentialsFrom(d: OvpnDirective, text: string): { credentials?: ProxyCredentials; ask?: { username?: string } } {
  const up = splitUserPass(text)
  if (!up.username) throw err(d, 'the credentials have no username on their first line')
  if (up.password === undefined) return { ask: { username: up.username } }
  return { credentials: { username: up.username, password: up.password } }
}

function parseSocks(d: OvpnDirective, readText: (d: OvpnDirective, name?: string) => string): OvpnProxy {
  const a = d.args
  if (a.length < 1 || a.length > 3) throw err(d, `expects HOST [PORT] [AUTHFILE], got ${a.length} arguments`)
  const spec: ProxySpec = { type: 'socks5', host: a[0], port: port(d, a[1], 1080) }
  const out: OvpnProxy = { file: d.file, line: d.line, directive: 'socks-proxy', spec }
  if (a[2] === 'stdin') out.ask = {}
  else if (a[2] !== undefined) {
    const c = credentialsFrom(d, readText(d, a[2]))
    spec.credentials = c.credentials
    out.ask = c.ask
  }
  return out
}

function parseHttp(d: OvpnDirective, userPassD: OvpnDirective | undefined, options: OvpnDirective[], readText: (d: OvpnDirective, name?: string) => string): OvpnProxy {
  const a = d.args
  if (a.length < 2 || a.length > 4) throw err(d, `expects HOST PORT [AUTHFILE|stdin|auto|auto-nct] [AUTH-METHOD], got ${a.length} argument${a.length === 1 ? '' : 's'}`)
  let authMode: HttpProxyAuthMode = 'none'
  let source: string | undefined
  if (a[2] === 'auto' || a[2] === 'auto-nct') {
    authMode = a[2]
    if (a[3] !== undefined) throw err(d, `"${a[2]}" chooses the method itself; remove "${a[3]}"`)
  } else if (a[2] !== undefined) {
    source = a[2]
    const method = (a[3] ?? 'basic').toLowerCase()
    if (method === 'basic') authMode = 'basic'
    else if (method === 'none') authMode = 'none'
    else if (method === 'ntlm2') authMode = 'ntlm2'
    else if (method === 'ntlm') throw err(d, 'NTLMv1 is refused: its DES-based response is broken crypto (OpenVPN 2.6 deprecates it for removal in 2.7); use "ntlm2" (NTLMv2), or "auto"')
    else throw err(d, `unknown auth-method "${a[3]}" (none, basic, ntlm2)`)
  }
  const spec: HttpProxySpec = { type: 'http', host: a[0], port: port(d, a[1]), authMode }
  const out: OvpnProxy = { file: d.file, line: d.line, directive: 'http-proxy', spec }
  // http-proxy-user-pass overrides the authfile argument (and gives "auto" its credentials)
  if (userPassD) {
    const c = credentialsFrom(userPassD, readText(userPassD))
    spec.credentials = c.credentials
    out.ask = c.ask
  } else if (source === 'stdin') out.ask = {}
  else if (source !== undefined && authMode !== 'none') {
    const c = credentialsFrom(d, readText(d, source))
    spec.credentials = c.credentials
    out.ask = c.ask
  }
  if (authMode === 'none' && (userPassD || source)) {
    // credentials given but "none" asked for: OpenVPN sends none; keep them unused
    spec.credentials = undefined
    out.ask = undefined
  }
  for (const o of options) {
    const [type, ...rest] = o.args
    switch (type?.toUpperCase()) {
      case 'VERSION':
        if (rest.length !== 1 || (rest[0] !== '1.0' && rest[0] !== '1.1')) throw err(o, 'VERSION expects 1.0 or 1.1')
        spec.version = rest[0]
        break
      case 'AGENT':
        if (rest.length !== 1) throw err(o, 'AGENT expects one string (quote it when it has spaces)')
        if (!/^[\x20-\x7e]*$/.test(rest[0])) throw err(o, 'AGENT must be printable ASCII')
        spec.agent = rest[0]
        break
      case 'CUSTOM-HEADER': {
        if (rest.length < 1 || rest.length > 2) throw err(o, 'CUSTOM-HEADER expects NAME [CONTENT]')
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(rest[0])) throw err(o, `"${rest[0]}" is not a valid HTTP header name`)
        if (!/^[\t\x20-\x7e]*$/.test(rest[1] ?? '')) throw err(o, 'CUSTOM-HEADER content must be printable ASCII')
        ;(spec.headers ??= []).push({ name: rest[0], value: rest[1] ?? '' })
        break
      }
      default:
        throw err(o, `unknown option type ${JSON.stringify(type ?? '')} (VERSION, AGENT, CUSTOM-HEADER)`)
    }
  }
  return out
}

/**
 * The global proxy, and each remote's: its <connection> block's own (http-proxy,
 * http-proxy-option, socks-proxy) or else the global one. http-proxy-user-pass is global only and
 * serves every http-proxy. An HTTP proxy for a UDP remote is refused (checkProxyProto).
 */
export function resolveProxies(globalDs: OvpnDirective[], remotes: { remote: ProxiedRemote; ds?: OvpnDirective[] }[], readText: (d: OvpnDirective, name?: string) => string): OvpnProxy | undefined {
  const userPassD = globalDs.filter((d) => d.name === 'http-proxy-user-pass').pop()
  const global = parseProxyDirectives(
    globalDs.filter((d) => d.name !== 'http-proxy-user-pass'),
    readText,
    userPassD,
  )
  if (userPassD && global?.directive !== 'http-proxy' && !remotes.some((r) => r.ds?.some((x) => x.name === 'http-proxy'))) throw err(userPassD, 'needs an http-proxy directive')
  for (const { remote, ds } of remotes) {
    const proxy = (ds && parseProxyDirectives(ds, readText, userPassD)) ?? global
    if (!proxy) continue
    remote.proxy = proxy
    checkProxyProto(proxy, [remote])
  }
  return global
}

interface ProxiedRemote {
  proto: string
  file: string
  line: number
  host: string
  proxy?: OvpnProxy
}

/** An HTTP proxy carries only TCP (OpenVPN refuses http-proxy with UDP); SOCKS5 carries both. */
export function checkProxyProto(p: OvpnProxy, remotes: { proto: string; file: string; line: number; host: string }[]): void {
  const udp = remotes.find((r) => r.proto !== 'tcp')
  if (!udp || p.directive !== 'http-proxy') return
  throw new ConfigError(p.file, p.line, p.directive, `an HTTP proxy carries only TCP: use "proto tcp-client" (remote ${udp.host} at ${udp.file}:${udp.line} is UDP)`)
}
