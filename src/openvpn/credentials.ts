// Secrets an .ovpn leaves to be typed in, as OpenVPN 2.6 asks for them on its console
// (openvpn(8) --auth-user-pass with no file or a file holding only the username, --askpass with
// no file, --http-proxy/--socks-proxy authfile "stdin" or a username-only file). The library never
// reads a terminal itself: the caller (the CLI) passes a `prompt` callback, and the answers are
// handed to the tunnel settings. Without a prompt the tunnel settings raise a clear error.
import type { OvpnConfig, OvpnDirective, OvpnProxy, OvpnRemote } from '../config/ovpn.js'
import { ConfigError } from '../core/errors.js'
import type { ProxyCredentials, ProxySpec } from '../transport/via-proxy.js'
import { splitUserPass } from '../config/ovpn-proxy.js'

export type PromptKind = 'auth-username' | 'auth-password' | 'key-passphrase' | 'proxy-username' | 'proxy-password'

export interface PromptRequest {
  kind: PromptKind
  /** What to show, e.g. "Enter Auth Username:" (OpenVPN's wording). */
  message: string
  /** false for passwords and passphrases: the answer must not be echoed. */
  echo: boolean
}

/** Ask the user one question; resolves with the answer (without the line ending). */
export type PromptFn = (req: PromptRequest) => Promise<string>

/** Answers handed to the tunnel settings (tlsSettingsFromOvpn / staticParamsFromConfig). */
export interface OvpnSecrets {
  userPass?: { username: string; password: string }
  /** Private-key passphrase (askpass). */
  askpass?: string
  proxyCredentials?: ProxyCredentials
}

/** What the config leaves unanswered. */
export interface MissingSecrets {
  /** auth-user-pass: `username` set when the file held only the username. */
  authUserPass?: { username?: string; directive: OvpnDirective }
  askpass?: OvpnDirective
  proxy?: { username?: string; directive: OvpnProxy['directive'] }
}

/** Every proxy the config uses (global and per <connection>), each once. */
function proxiesOf(cfg: OvpnConfig): OvpnProxy[] {
  const all = [cfg.proxy, ...cfg.remotes.map((r) => r.proxy)].filter((p): p is OvpnProxy => p !== undefined)
  return [...new Set(all)]
}

export function missingSecrets(cfg: OvpnConfig): MissingSecrets {
  const m: MissingSecrets = {}
  if (cfg.mode === 'tls') {
    const aup = cfg.tlsDirectives.find((d) => d.name === 'auth-user-pass')
    if (aup) {
      const blob = cfg.tlsFiles['auth-user-pass']
      if (blob?.text === undefined) m.authUserPass = { directive: aup }
      else {
        const up = splitUserPass(blob.text)
        if (up.username && up.password === undefined) m.authUserPass = { username: up.username, directive: aup }
      }
    }
    const ask = cfg.tlsDirectives.find((d) => d.name === 'askpass')
    if (ask && ask.args.length === 0) m.askpass = ask
  }
  // one typed-in username/password serves every proxy that asks (as OpenVPN's single prompt)
  const ask = proxiesOf(cfg).find((p) => p.ask)
  if (ask?.ask) m.proxy = { username: ask.ask.username, directive: ask.directive }
  return m
}

/**
 * Ask for everything missingSecrets() lists and `given` does not hold, in OpenVPN's order (key
 * passphrase, proxy, auth); returns `given` completed with the answers.
 */
export async function askSecrets(cfg: OvpnConfig, prompt: PromptFn, given: OvpnSecrets = {}): Promise<OvpnSecrets> {
  const m = missingSecrets(cfg)
  if (given.askpass !== undefined) m.askpass = undefined
  if (given.proxyCredentials) m.proxy = undefined
  if (given.userPass) m.authUserPass = undefined
  const out: OvpnSecrets = { ...given }
  if (m.askpass) out.askpass = await prompt({ kind: 'key-passphrase', message: 'Enter Private Key Password:', echo: false })
  if (m.proxy) {
    const kind = m.proxy.directive === 'socks-proxy' ? 'SOCKS Proxy' : 'HTTP Proxy'
    const username = m.proxy.username ?? (await prompt({ kind: 'proxy-username', message: `Enter ${kind} Username:`, echo: true }))
    const password = await prompt({ kind: 'proxy-password', message: `Enter ${kind} Password:`, echo: false })
    out.proxyCredentials = { username, password }
  }
  if (m.authUserPass) {
    const username = m.authUserPass.username ?? (await prompt({ kind: 'auth-username', message: 'Enter Auth Username:', echo: true }))
    const password = await prompt({ kind: 'auth-password', message: 'Enter Auth Password:', echo: false })
    out.userPass = { username, password }
  }
  return out
}

/**
 * `http-proxy … auto|auto-nct` with no login in the config: OpenVPN asks for one on its console
 * when the proxy answers 407. Give every such proxy an askCredentials that does the same through
 * `prompt` (asked once, shared by all proxies, kept for later connects).
 */
export function attachProxyPrompt(cfg: OvpnConfig, prompt: PromptFn): number {
  let answer: Promise<ProxyCredentials> | undefined
  const ask = (): Promise<ProxyCredentials> =>
    (answer ??= (async () => {
      const username = await prompt({ kind: 'proxy-username', message: 'Enter HTTP Proxy Username:', echo: true })
      const password = await prompt({ kind: 'proxy-password', message: 'Enter HTTP Proxy Password:', echo: false })
      return { username, password }
    })().catch((e: unknown) => {
      answer = undefined // an interrupted prompt is asked again next time
      throw e
    }))
  let n = 0
  for (const p of proxiesOf(cfg)) {
    const spec = p.spec
    if (spec.type !== 'http' || p.ask || spec.credentials || (spec.authMode !== 'auto' && spec.authMode !== 'auto-nct')) continue
    spec.askCredentials = ask
    n++
  }
  return n
}

/** The global proxy for the transport, with typed-in credentials applied; a clear error when they are missing. */
export function proxySpecFor(cfg: OvpnConfig, secrets: OvpnSecrets = {}): ProxySpec | undefined {
  return proxySpecOf(cfg.proxy, secrets)
}

/** One remote's proxy (its <connection> block's or the global one) with typed-in credentials applied. */
export function remoteProxySpec(r: OvpnRemote, secrets: OvpnSecrets = {}): ProxySpec | undefined {
  return proxySpecOf(r.proxy, secrets)
}

export function proxySpecOf(p: OvpnProxy | undefined, secrets: OvpnSecrets = {}): ProxySpec | undefined {
  if (!p) return undefined
  if (!p.ask) return p.spec
  if (!secrets.proxyCredentials) {
    throw new ConfigError(p.file, p.line, p.directive, `the proxy ${p.ask.username ? 'password' : 'username and password'} must be typed in, but no interactive prompt is available here (stdin is not a terminal); give a file with the username and password`)
  }
  const typed = secrets.proxyCredentials
  // a file holding only the username keeps its username; the typed password completes it
  return { ...p.spec, credentials: { username: p.ask.username ?? typed.username, password: typed.password } }
}
