// The benchmark modules, in run order. Add new ones (OpenVPN/WireGuard tunnels vs native clients)
// here: each is a BenchModule (bench/types.ts) returning rows with an in-run baseline.
import type { BenchModule } from './types.js'
import { memoryBench } from './memory.js'
import { tunPathBench } from './tun-path.js'
import { openvpnStaticBench } from './openvpn-static.js'
import { wireguardBench } from './wireguard.js'
import { ingressBench } from './ingress.js'
import { openvpnTlsBench } from './openvpn-tls.js'

export const modules: BenchModule[] = [memoryBench, tunPathBench, openvpnStaticBench, wireguardBench, ingressBench, openvpnTlsBench]
