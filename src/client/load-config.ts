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

export type TunnelKind = 'openvpn-static' | 'openvpn-tls' | 'wireguard'

export function detectKind(text: string): 'openvpn' | 'wireguard' {
  return /^\s*\[Interface\]\s*$/im.test(text) ? 'wireguard' : 'openvpn'
}

export function loadTunnel(path: string, deps: { logger?: Logger; clock?: Clock } = {}): { tunnel: Tunnel; kind: TunnelKind } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw new BurrowError(ErrorCode.ERR_CONFIG, `cannot read config ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
  }
  if (detectKind(text) === 'wireguard') {
    const cfg = parseWgQuick(text, path, deps.logger)
    return { tunnel: createWireGuardTunnel(cfg, { logger: deps.logger, clock: deps.clock }), kind: 'wireguard' }
  }
  const cfg = loadOvpnFile(path)
  for (const w of cfg.warnings) deps.logger?.warn(w)
  if (cfg.mode === 'tls') return { tunnel: createOpenVpnTlsTunnel(cfg, { logger: deps.logger, clock: deps.clock }), kind: 'openvpn-tls' }
  return { tunnel: createOpenVpnTunnel(cfg, { logger: deps.logger, clock: deps.clock }), kind: 'openvpn-static' }
}
