// The TUN bridge itself, without the netstack: Linux↔Linux through tunbridge (plain and impaired,
// checking the impairment really drops/duplicates/reorders/delays), and the stdio mode answering a
// hand-built ICMP echo request.
import { afterEach, describe, expect, it } from 'vitest'
import { interopSkipReason } from './netns.js'
import { createTunPath, type TunPath } from './tunpath.js'
import { fileURLToPath } from 'node:url'

const skip = interopSkipReason('tunbridge', ['gcc', 'ping'])
const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url))

function pingStats(out: string): { received: number; min: number; avg: number; max: number } {
  const rec = /(\d+) received/.exec(out)
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(out)
  const n = (i: number) => (rtt ? Number(rtt[i]) : NaN)
  return { received: rec ? Number(rec[1]) : 0, min: n(1), avg: n(2), max: n(3) }
}

/** TCP transfer from a Linux sender in path.ns to a Linux receiver in path.peer. */
async function transfer(path: TunPath, host: string, bytes: number): Promise<{ got: number; ms: number }> {
  const port = 5201
  const src = path.ns.spawn('node', [PEER, 'source', String(port), String(bytes), '7'])
  await src.waitFor(/listening/)
  const rcv = path.peer!.spawn('node', [PEER, 'recv', host, String(port), String(bytes), '60'])
  const m = await rcv.waitFor(/recv (\d+) ([\d.]+)|recv error (\S+)/, 90_000)
  if (m[3]) throw new Error(`recv error ${m[3]}`)
  await src.kill()
  return { got: Number(m[1]), ms: Number(m[2]) }
}

/** Minimal IPv4 + ICMP echo request, checksums by RFC 1071. */
function echoRequest(src: string, dst: string, id: number): Uint8Array {
  const p = new Uint8Array(2 + 20 + 8 + 16) // 2 bytes headroom for the PipeLink
  const ip = p.subarray(2)
  ip[0] = 0x45
  ip[3] = ip.length
  ip[8] = 64
  ip[9] = 1
  ip.set(src.split('.').map(Number), 12)
  ip.set(dst.split('.').map(Number), 16)
  const sum = (b: Uint8Array) => {
    let s = 0
    for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0)
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
    return ~s & 0xffff
  }
  const c = sum(ip.subarray(0, 20))
  ip[10] = c >> 8
  ip[11] = c & 0xff
  const icmp = ip.subarray(20)
  icmp[0] = 8
  icmp[4] = id >> 8
  icmp[5] = id & 0xff
  icmp[7] = 1
  icmp.fill(0x5a, 8)
  const ic = sum(icmp)
  icmp[2] = ic >> 8
  icmp[3] = ic & 0xff
  return ip
}

describe.skipIf(skip)('tunbridge', () => {
  let path: TunPath | undefined
  afterEach(async () => {
    await path?.destroy()
    path = undefined
  })

  it('bridges Linux↔Linux over IPv4 and IPv6 without impairment', async () => {
    path = await createTunPath({ prefix: 'bpn', index: 1, mode: 'linux' })
    const { addrs } = path
    for (const a of [addrs.far4, addrs.far6]) {
      const out = path.ns.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', a])
      expect(pingStats(out).received).toBe(3)
    }
    const r = await transfer(path, addrs.linux4, 20_000_000)
    expect(r.got).toBe(20_000_000)
    console.log(`tunbridge linux↔linux lossless: ${((r.got * 8) / r.ms / 1000).toFixed(0)} Mbit/s`)
    const st = await path.bridge.stats()
    expect(st.a2b.lost + st.b2a.lost + st.a2b.dup + st.a2b.reord).toBe(0)
    expect(st.a2b.tx).toBe(st.a2b.rx)
  })

  it('impairs: delay gives the RTT, loss/dup/reorder are applied at the configured rates', async () => {
    path = await createTunPath({
      prefix: 'bpn',
      index: 2,
      mode: 'linux',
      impair: { delayMs: 25, loss: 10, dup: 5, reorder: 10 },
      seed: 42,
    })
    const out = path.ns.exec('ping', ['-c', '200', '-i', '0.005', '-W', '1', path.addrs.far4], { allowFail: true })
    const p = pingStats(out)
    // Each echo crosses the bridge twice: P(reply) ≈ 0.9² = 0.81.
    expect(p.received).toBeGreaterThan(130)
    expect(p.received).toBeLessThan(190)
    // 25 ms each way; a reordered packet skips the delay (netem semantics), so with 10 % reordering
    // per leg the mean is ≈ 50 − 2·0.1·25 = 45 ms and the fastest replies are well under 50.
    expect(p.max).toBeGreaterThanOrEqual(50)
    expect(p.avg).toBeGreaterThan(40)
    expect(p.avg).toBeLessThan(52)
    expect(p.min).toBeLessThan(30)
    const st = await path.bridge.stats()
    for (const d of [st.a2b, st.b2a]) {
      expect(d.rx).toBeGreaterThan(100)
      expect(d.lost / d.rx).toBeGreaterThan(0.04)
      expect(d.lost / d.rx).toBeLessThan(0.2)
      expect(d.dup).toBeGreaterThan(0)
      expect(d.reord).toBeGreaterThan(0)
    }
    // Linux TCP still gets every byte across.
    const r = await transfer(path, path.addrs.linux6, 2_000_000)
    expect(r.got).toBe(2_000_000)
  })

  it('stdio mode: a hand-built ICMP echo request gets the kernel reply', async () => {
    path = await createTunPath({ prefix: 'bpn', index: 3, mode: 'stdio' })
    const link = path.link!
    const got: Uint8Array[] = []
    link.attach(
      (pkt) => got.push(pkt.slice()),
      () => {},
    )
    const { far4, linux4 } = path.addrs
    const deadline = Date.now() + 5000
    let reply: Uint8Array | undefined
    while (!reply && Date.now() < deadline) {
      link.send(echoRequest(far4, linux4, 0x4242))
      await new Promise((r) => setTimeout(r, 200))
      reply = got.find((p) => p[0] >> 4 === 4 && p[9] === 1 && p[20] === 0 && p[24] === 0x42 && p[25] === 0x42)
    }
    expect(reply).toBeDefined()
    expect([...reply!.subarray(12, 16)].join('.')).toBe(linux4)
    expect([...reply!.subarray(16, 20)].join('.')).toBe(far4)
    // Closing stdin ends the bridge (and with it the TUN device), printing its counters.
    const exited = new Promise<number | null>((r) => path!.bridge.child.once('exit', (code) => r(code)))
    path.bridge.child.stdin!.end()
    expect(await exited).toBe(0)
    const st = await path.bridge.stats()
    expect(st.b2a.rx).toBeGreaterThan(0)
    expect(st.b2a.tx).toBe(st.b2a.rx)
    expect(path.ns.exec('ip', ['-o', 'link'])).not.toContain(path.bridge.dev)
  })
})
