// Loads a tunnel configuration by content: a wg-quick file has an [Interface] section; anything
// else is read as an OpenVPN .ovpn file. Returns a not-yet-started Tunnel.
import { readFileSync } from 'node:fs'
import { BurrowError, ErrorCode } from '../core/errors.js'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { Tunnel } from '../tunnel/types.js'
import { loadOvpnFile } from '../config/ovpn.js'
import { createOpenVpnTunnel } from '../openvpn/tunnel.js'
import { createOpenVpnTlsTunnel } from '../openvpn/tls/tunnel-tls.js'
import { parseWgQuick } from '../config/wgquick.js'
import { createWireGuardTunnel } from '../wireguard/tunnel.js'
import { askSecrets, attachProxyPrompt, missingSecrets, type OvpnSecrets, type PromptFn } from '../openvpn/credentials.js'

export type TunnelKind = 'openvpn-static' | 'openvpn-tls' | 'wireguard'

export function detectKind(text: string): 'openvpn' | 'wireguard' {
  return /^\s*\[Interface\]\s*$/im.test(text) ? 'wireguard' : 'openvpn'
}

export interface LoadTunnelDeps {
  logger?: Logger
  clock?: Clock
  /** OpenVPN secrets not in the config (auth-user-pass, askpass, proxy credentials). */
  secrets?: OvpnSecrets
  /**
   * Asks the user (the CLI: on its terminal). loadTunnelInteractive asks up front for what the
   * config leaves out; an http-proxy "auto" without a login asks when the proxy wants one.
   */
  prompt?: PromptFn
}

/**
 * loadTunnel, first asking `prompt` for what an OpenVPN config leaves to be typed in
 * (auth-user-pass without a file or with only the username, askpass without a file, proxy
 * authfile "stdin"). Without a prompt, or when nothing is missing, it is loadTunnel.
 */
export async function loadTunnelInteractive(path: string, deps: LoadTunnelDeps = {}): Promise<{ tunnel: Tunnel; kind: TunnelKind }> {
  if (!deps.prompt) return loadTunnel(path, deps)
  const text = readConfigText(path)
  if (detectKind(text) === 'wireguard') return loadTunnel(path, deps)
  const cfg = loadOvpnFile(path)
  const m = missingSecrets(cfg)
  if (!m.authUserPass && !m.askpass && !m.proxy) return loadTunnel(path, deps)
  return loadTunnel(path, { ...deps, secrets: await askSecrets(cfg, deps.prompt, deps.secrets) })
}

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw new BurrowError(ErrorCode.ERR_CONFIG, `cannot read config ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  }
}

export function loadTunnel(path: string, deps: LoadTunnelDeps = {}): { tunnel: Tunnel; kind: TunnelKind } {
  const text = readConfigText(path)
  if (detectKind(text) === 'wireguard') {
    const cfg = parseWgQuick(text, path, deps.logger)
    return { tunnel: createWireGuardTunnel(cfg, { logger: deps.logger, clock: deps.clock }), kind: 'wireguard' }
  }
  const cfg = loadOvpnFile(path)
  for (const w of cfg.warnings) deps.logger?.warn(w)
  if (deps.prompt) attachProxyPrompt(cfg, deps.prompt)
  if (cfg.mode === 'tls') return { tunnel: createOpenVpnTlsTunnel(cfg, { logger: deps.logger, clock: deps.clock, ...deps.secrets }), kind: 'openvpn-tls' }
  return { tunnel: createOpenVpnTunnel(cfg, { logger: deps.logger, clock: deps.clock, secrets: deps.secrets }), kind: 'openvpn-static' }
}
