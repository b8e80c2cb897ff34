// Shared fixtures for WireGuard unit/sim tests: deterministic keys, configs and a two-tunnel rig
// over MemNet under FakeClock.
import { FakeClock, seededRandom } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import { x25519PublicFromPrivate } from '../../src/wireguard/crypto.js'
import { createWireGuardTunnel, type WireGuardTunnel, type WireGuardTunnelOptions } from '../../src/wireguard/tunnel.js'
import type { WgConfig, WgPeerConfig } from '../../src/config/wgquick.js'
import { parseCidr } from '../../src/netstack/addr.js'
import { MemNet } from './memnet.js'

/** A deterministic "private key": 32 bytes from a seed (X25519 clamps internally). */
export function seedKey(seed: number): Uint8Array {
  const r = seededRandom(seed)
  return Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256))
}

export function keyPair(seed: number): { priv: Uint8Array; pub: Uint8Array } {
  const priv = seedKey(seed)
  return { priv, pub: x25519PublicFromPrivate(priv) }
}

export const cidrs = (...s: string[]) => s.map((x) => parseCidr(x)!)

export function makeConfig(priv: Uint8Array, addresses: string[], peers: Omit<WgPeerConfig, 'line'>[], extra: Partial<WgConfig['interface']> = {}): WgConfig {
  return {
    file: 'test.conf',
    interface: { privateKey: priv, addresses: cidrs(...addresses), dns: [], searchDomains: [], ...extra },
    peers: peers.map((p, i) => ({ line: i + 10, ...p })),
  }
}

/** Seeded byte source (indexes, cookie secrets, ephemerals) so sim runs are reproducible. */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = seededRandom(seed)
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
}

export interface Rig {
  clock: FakeClock
  net: MemNet
  client: WireGuardTunnel
  server: WireGuardTunnel
  clientRx: Uint8Array[]
  serverRx: Uint8Array[]
  keys: { client: ReturnType<typeof keyPair>; server: ReturnType<typeof keyPair> }
}

export const CLIENT_ADDR = '198.51.100.1'
export const SERVER_ADDR = '198.51.100.2'
export const SERVER_PORT = 51820

/**
 * Client 10.9.0.2 / fd09::2 with the server as its only peer (AllowedIPs 0.0.0.0/0, ::/0);
 * server 10.9.0.1 with the client as peer (AllowedIPs 10.9.0.2/32, fd09::2/128), no endpoint.
 */
export function makeRig(
  opts: {
    psk?: Uint8Array
    clientOpts?: WireGuardTunnelOptions
    serverOpts?: WireGuardTunnelOptions
    persistentKeepalive?: number
    endpointHost?: string
  } = {},
): Rig {
  const clock = new FakeClock(1_000_000)
  const net = new MemNet(clock)
  const keys = { client: keyPair(1), server: keyPair(2) }
  const clientCfg = makeConfig(keys.client.priv, ['10.9.0.2/32', 'fd09::2/128'], [
    {
      publicKey: keys.server.pub,
      presharedKey: opts.psk,
      endpoint: { host: opts.endpointHost ?? SERVER_ADDR, port: SERVER_PORT },
      allowedIps: cidrs('0.0.0.0/0', '::/0'),
      persistentKeepalive: opts.persistentKeepalive,
    },
  ])
  const serverCfg = makeConfig(
    keys.server.priv,
    ['10.9.0.1/24'],
    [{ publicKey: keys.client.pub, presharedKey: opts.psk, allowedIps: cidrs('10.9.0.2/32', 'fd09::2/128') }],
    { listenPort: SERVER_PORT },
  )
  const common = (seed: number): WireGuardTunnelOptions => ({
    clock,
    counters: new Counters(),
    random: seededRandom(seed),
    randomBytes: seededBytes(seed + 100),
    wallClock: () => 1_700_000_000_000,
  })
  const client = createWireGuardTunnel(clientCfg, { ...common(11), socket: net.factory(CLIENT_ADDR), ...opts.clientOpts })
  const server = createWireGuardTunnel(serverCfg, { ...common(12), socket: net.factory(SERVER_ADDR), ...opts.serverOpts })
  const clientRx: Uint8Array[] = []
  const serverRx: Uint8Array[] = []
  client.attach((p) => clientRx.push(p), () => {})
  server.attach((p) => serverRx.push(p), () => {})
  return { clock, net, client, server, clientRx, serverRx, keys }
}

/** Start server then client, running the fake clock until the client's start() settles. */
export async function startRig(r: Rig): Promise<void> {
  await r.server.start()
  const p = r.client.start()
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let i = 0; i < 200 && !settled; i++) {
    await Promise.resolve()
    r.clock.advance(1)
    await new Promise((res) => setImmediate(res))
  }
  await p
}
