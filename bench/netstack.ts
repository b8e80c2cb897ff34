// How the benchmarks construct the netstack: `new NetStack({ link, addresses, clock })` from
// src/netstack/stack.ts with a RealClock.
import { RealClock } from '../src/core/clock.js'
import type { Cidr, Link } from '../src/tunnel/types.js'
import type { NetStackApi } from '../src/netstack/api.js'

type NetStackCtor = new (o: { link: Link; addresses: Cidr[]; clock: RealClock }) => NetStackApi

let ctor: NetStackCtor | null | undefined
let why = ''

/** Load the NetStack class; null (with reason()) when it does not exist yet. */
export async function loadNetStack(): Promise<NetStackCtor | null> {
  if (ctor !== undefined) return ctor
  const spec = '../src/netstack/stack.js'
  try {
    const mod = (await import(spec)) as { NetStack?: NetStackCtor }
    ctor = mod.NetStack ?? null
    if (!ctor) why = 'src/netstack/stack.ts exports no NetStack'
  } catch (e) {
    ctor = null
    why = `cannot load src/netstack/stack.ts: ${(e as Error).message}`
  }
  return ctor
}

export function netstackMissingReason(): string {
  return why
}

export async function makeStack(link: Link, addresses: Cidr[]): Promise<NetStackApi> {
  const C = await loadNetStack()
  if (!C) throw new Error(why)
  return new C({ link, addresses, clock: new RealClock() })
}
