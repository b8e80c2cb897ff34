// Test scaffolding: one emulated path between a Linux namespace and either the in-process
// netstack (a PipeLink over tunbridge's stdio) or a second Linux namespace (TUN↔TUN), both going
// through the same tunbridge impairment. Used by interop tests and benchmarks. Never used by the
// product.
import { Netns, subnetFor } from './netns.js'
import { startTunBridge, type BridgeStats, type Impairment, type TunBridge } from './tunbridge.js'
import { PipeLink } from './tun-link.js'

export interface PathAddrs {
  /** Linux end inside `ns` (the TUN device). */
  linux4: string
  linux6: string
  /** Far end: the netstack (stdio mode) or the TUN device in `peer` (linux mode). */
  far4: string
  far6: string
  prefix4: number
  prefix6: number
}

export interface TunPath {
  readonly ns: Netns
  /** Second namespace (linux mode only). */
  readonly peer: Netns | undefined
  readonly bridge: TunBridge
  /** The Link the netstack attaches to (stdio mode only). */
  readonly link: PipeLink | undefined
  readonly addrs: PathAddrs
  /** Stop the bridge (final counters) and remove the namespaces. Safe to call twice. */
  destroy(): Promise<BridgeStats | undefined>
}

export interface TunPathOptions {
  /** Namespace prefix ("bpn…"). */
  prefix: string
  /** subnetFor() index: different paths in one process need different indexes. */
  index: number
  mode: 'stdio' | 'linux'
  impair?: Impairment
  seed?: number
  mtu?: number
}

function configure(ns: Netns, dev: string, v4: string, v6: string): void {
  ns.exec('ip', ['addr', 'add', `${v4}/24`, 'dev', dev])
  ns.exec('ip', ['-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad'])
}

export async function createTunPath(o: TunPathOptions): Promise<TunPath> {
  const net = subnetFor(o.index)
  const addrs: PathAddrs = {
    linux4: net.v4(1),
    linux6: net.v6(1),
    far4: net.v4(2),
    far6: net.v6(2),
    prefix4: 24,
    prefix6: 64,
  }
  const ns = Netns.create(o.prefix)
  let peer: Netns | undefined
  let bridge: TunBridge | undefined
  let destroyed = false
  let final: BridgeStats | undefined
  const destroy = async () => {
    if (destroyed) return final
    destroyed = true
    if (bridge) final = await bridge.stop().catch(() => undefined)
    await ns.destroy()
    if (peer) await peer.destroy()
    return final
  }
  try {
    if (o.mode === 'linux') peer = Netns.create(o.prefix)
    bridge = await startTunBridge({ ns, peer, impair: o.impair, seed: o.seed, mtu: o.mtu })
    configure(ns, bridge.dev, addrs.linux4, addrs.linux6)
    if (peer && bridge.dev2) configure(peer, bridge.dev2, addrs.far4, addrs.far6)
    const link = o.mode === 'stdio' ? new PipeLink(bridge.child.stdin!, bridge.child.stdout!, o.mtu ?? 1500) : undefined
    return { ns, peer, bridge, link, addrs, destroy }
  } catch (e) {
    await destroy()
    throw e
  }
}
