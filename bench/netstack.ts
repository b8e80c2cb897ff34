// How the benchmarks construct the netstack: `new NetStack({ link, addresses, clock })` from
// src/netstack/stack.ts with a RealClock.
import { RealClock } from '../src/core/clock.js'
import { NetStack } from '../src/netstack/stack.js'
import type { Cidr, Link } from '../src/tunnel/types.js'
import type { NetStackApi } from '../src/netstack/api.js'

export function makeStack(link: Link, addresses: Cidr[]): NetStackApi {
  return new NetStack({ link, addresses, clock: new RealClock() })
}
