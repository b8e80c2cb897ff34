// In-memory stack-to-stack throughput: two NetStacks (RealClock) over a lossless in-memory Link
// pair (bench/mem-link.ts), one TCP connection, the client writes N bytes as fast as write()/onDrain
// allow and the server counts them. Both stacks share this one thread, so the figure is the
// stack's CPU cost for both ends of the connection.
import { memLinkPair } from './mem-link.js'
import { makeStack } from './netstack.js'
import { mbitPerSec, type BenchModule } from './types.js'
import type { TcpConn } from '../src/netstack/api.js'

async function transfer(bytes: number, mtu: number): Promise<{ ms: number; got: number }> {
  const [la, lb] = memLinkPair(mtu)
  const a = makeStack(la, [{ address: '10.77.0.1', prefix: 24 }])
  const b = makeStack(lb, [{ address: '10.77.0.2', prefix: 24 }])
  // The stacks' timers (pacing, RTO) are unref'd and no socket exists here: hold the loop open.
  const keepAlive = setInterval(() => {}, 1000)
  try {
    let got = 0
    let t0 = 0
    const done = new Promise<number>((resolve, reject) => {
      const listener = b.listenTcp({ port: 9000 }, (c: TcpConn) => {
        c.onData = (d) => {
          got += d.length
        }
        c.onEnd = () => {
          listener.close()
          c.end()
          resolve(performance.now() - t0)
        }
        c.onClose = (err) => err && reject(err)
      })
    })
    const c = await a.connectTcp({ host: '10.77.0.2', port: 9000 })
    const chunk = new Uint8Array(64 * 1024).fill(0x61)
    let left = bytes
    t0 = performance.now()
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length)
        left -= n
        if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return
      }
      c.end()
    }
    c.onDrain = pump
    pump()
    const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`stalled at ${got} of ${bytes} bytes`)), 120_000).unref())
    const ms = await Promise.race([done, timeout])
    return { ms, got }
  } finally {
    clearInterval(keepAlive)
    a.close()
    b.close()
  }
}

export const memoryBench: BenchModule = {
  name: 'memory',
  skipReason() {
    return null
  },
  async run(ctx) {
    const bytes = ctx.quick ? 50e6 : 200e6
    const rounds = ctx.quick ? 1 : 2
    let best = Infinity
    for (let i = 0; i < rounds; i++) {
      const r = await transfer(bytes, 1500)
      if (r.got !== bytes) throw new Error(`received ${r.got} of ${bytes}`)
      ctx.log(`${(bytes / 1e6).toFixed(0)} MB in ${(r.ms / 1000).toFixed(2)} s`)
      best = Math.min(best, r.ms)
    }
    return [
      {
        name: 'in-memory stack↔stack TCP, MTU 1500',
        value: mbitPerSec(bytes, best),
        unit: 'Mbit/s',
        note: `${(bytes / 1e6).toFixed(0)} MB, both stacks on one thread${rounds > 1 ? `, best of ${rounds}` : ''}`,
      },
    ]
  },
}
