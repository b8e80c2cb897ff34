// OpenVPN tunnel factory: maps an interpreted .ovpn (src/config/ovpn.ts) onto the static-key
// tunnel (openvpn(8) --secret mode). TLS mode (--client/--tls-client) is parsed but not
// implemented yet and is refused here with ERR_NOT_IMPLEMENTED.

import { BurrowError, ErrorCode } from '../core/errors.js'
import type { OvpnConfig } from '../config/ovpn.js'
import { prefixToMask } from '../config/ovpn-net.js'
import type { Cidr } from '../tunnel/types.js'
import type { ListenTransportOptions } from '../transport/listen.js'
import { OpenVpnStaticTunnel, type OpenVpnStaticParams, type OpenVpnTunnelDeps } from './tunnel-static.js'
import type { StaticAuthName, StaticCipherName } from './static-key.js'
import { proxySpecFor, remoteProxySpec, type OvpnSecrets } from './credentials.js'

/** The static-key tunnel parameters of a static-key .ovpn config. */
export function staticParamsFromConfig(config: OvpnConfig, secrets: OvpnSecrets = {}): OpenVpnStaticParams {
  if (config.mode !== 'static-key' || !config.secret || !config.cipher) {
    throw new BurrowError(ErrorCode.ERR_NOT_IMPLEMENTED, 'OpenVPN TLS mode is not implemented yet (static-key only)')
  }
  const addresses: Cidr[] = []
  if (config.ifconfig) addresses.push({ address: config.ifconfig.local, prefix: config.ifconfig.prefix })
  if (config.ifconfigIpv6) addresses.push({ address: config.ifconfigIpv6.address, prefix: config.ifconfigIpv6.prefix })
  const routes: Cidr[] = [...config.routes]
  if (config.ifconfigIpv6?.remote) routes.push({ address: config.ifconfigIpv6.remote, prefix: 128 })
  return {
    key: config.secret.key,
    direction: config.secret.direction,
    cipher: config.cipher as StaticCipherName,
    auth: config.auth as StaticAuthName,
    remotes: config.remotes.map((r) => ({ host: r.host, port: r.port, proto: r.proto, family: r.family, proxy: remoteProxySpec(r, secrets) })),
    proxy: proxySpecFor(config, secrets),
    remoteRandom: config.remoteRandom,
    connectRetry: config.connectRetry,
    connectRetryMaxDelay: config.connectRetryMaxDelay,
    connectRetryMax: config.connectRetryMax,
    ping: config.ping,
    pingRestart: config.pingRestart,
    mtu: config.tunMtu,
    addresses,
    routes,
    dns: config.dns,
    searchDomains: config.searchDomains,
    ifconfig: config.ifconfig
      ? { local: config.ifconfig.local, remote: config.ifconfig.remote, netmask: config.ifconfig.remote ? undefined : prefixToMask(config.ifconfig.prefix) }
      : undefined,
    replayWindow: config.replayWindow,
    replayTime: config.replayTime,
    explicitExitNotify: config.explicitExitNotify,
  }
}

/** Create the client tunnel for a parsed .ovpn config. TLS-mode configs → ERR_NOT_IMPLEMENTED. */
export function createOpenVpnTunnel(config: OvpnConfig, deps: OpenVpnTunnelDeps & { secrets?: OvpnSecrets } = {}): OpenVpnStaticTunnel {
  if (config.mode === 'tls') {
    throw new BurrowError(ErrorCode.ERR_NOT_IMPLEMENTED, 'OpenVPN TLS mode is not implemented yet (static-key only)')
  }
  if (config.remotes.length === 0) throw new BurrowError(ErrorCode.ERR_CONFIG, `${config.file}: no "remote" server configured`)
  return new OpenVpnStaticTunnel(staticParamsFromConfig(config, deps.secrets), deps)
}

/**
 * The other end of a static-key client config, for running a loopback server in-process (demo,
 * tests): opposite key direction, ifconfig local/peer swapped, the client's address as its route.
 */
export function serverParamsFromClient(client: OpenVpnStaticParams): OpenVpnStaticParams {
  const dir = client.direction === undefined ? undefined : ((1 - client.direction) as 0 | 1)
  const ifc = client.ifconfig
  const addresses: Cidr[] = []
  const routes: Cidr[] = []
  if (ifc?.remote) {
    addresses.push({ address: ifc.remote, prefix: 32 })
    routes.push({ address: ifc.local, prefix: 32 })
  } else {
    for (const a of client.addresses) routes.push({ address: a.address, prefix: a.address.includes(':') ? 128 : 32 })
  }
  return {
    ...client,
    direction: dir,
    remotes: [],
    addresses,
    routes,
    dns: [],
    searchDomains: [],
    ifconfig: ifc?.remote ? { local: ifc.remote, remote: ifc.local } : undefined,
    pingRestart: 0,
  }
}

/** Start-able server-role tunnel on 127.0.0.1 (or opts.host), any free port unless given. */
export function createOpenVpnStaticServer(params: OpenVpnStaticParams, listen: ListenTransportOptions, deps: OpenVpnTunnelDeps = {}): OpenVpnStaticTunnel {
  return OpenVpnStaticTunnel.listen(params, listen, deps)
}
