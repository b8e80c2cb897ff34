// The IP layer against Linux as the independent peer: ICMP echo with fragmentation both ways,
// UDP datagrams fragmented both ways, and ICMP errors/RSTs understood in both directions.
// Packets: NetStack ⇄ PipeLink ⇄ tunbridge ⇄ TUN in a namespace this test creates (MTU 1500).
// Linux-side commands run as child processes (never execFileSync: the netstack lives in this
// process and must keep answering while they run).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RealClock } from '../../src/core/clock.js'
import { Counters } from '../../src/core/counters.js'
import { NetStack } from '../../src/netstack/stack.js'
import { interopSkipReason } from '../harness/netns.js'
import { createTunPath, type TunPath } from '../harness/tunpath.js'

const skip = interopSkipReason('netstack-ip-linux', ['gcc', 'ping', 'python3'])

/** Run a command inside the namespace; resolve with its exit code and output. */
async function nsRun(path: TunPath, cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; out: string }> {
  const p = path.ns.spawn(cmd, args)
  const code = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${cmd} timed out: ${p.output()}`)), timeoutMs)
    p.child.once('exit', (c) => {
      clearTimeout(t)
      resolve(c ?? -1)
    })
  })
  return { code, out: p.output() }
}

const PY_UDP = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(5)
s.connect((sys.argv[1], int(sys.argv[2])))
n = int(sys.argv[3])
data = bytes((i * 7) & 255 for i in range(n))
s.send(data)
try:
    back = s.recv(70000)
    print('ECHO', 'OK' if back == data[::-1] else 'MISMATCH', len(back))
except ConnectionRefusedError:
    print('REFUSED')
except socket.timeout:
    print('TIMEOUT')
`
const PY_TCP = `
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    print('CONNECTED')
except ConnectionRefusedError:
    print('REFUSED')
except socket.timeout:
    print('TIMEOUT')
`

describe.skipIf(skip)('NetStack IP layer ↔ Linux', () => {
  let path: TunPath
  let stack: NetStack
  const counters = new Counters()
  beforeAll(async () => {
    path = await createTunPath({ prefix: 'bpa', index: 41, mode: 'stdio', mtu: 1500 })
    stack = new NetStack({
      link: path.link!,
      clock: new RealClock(),
      counters,
      addresses: [
        { address: path.addrs.far4, prefix: path.addrs.prefix4 },
        { address: path.addrs.far6, prefix: path.addrs.prefix6 },
      ],
    })
    const echo = stack.listenUdp({ port: 7 })
    echo.onMessage = (d, from) => echo.send(d.slice().reverse(), from.address, from.port)
  }, 120_000)
  afterAll(async () => {
    stack?.close()
    await path?.destroy()
  })

  for (const fam of [4, 6] as const) {
    const linux = () => (fam === 4 ? path.addrs.linux4 : path.addrs.linux6)
    const far = () => (fam === 4 ? path.addrs.far4 : path.addrs.far6)

    it(`IPv${fam}: Linux pings the netstack with 3000-byte fragmented echoes`, async () => {
      const r = await nsRun(path, 'ping', [`-${fam}`, '-c', '2', '-i', '0.2', '-W', '2', '-s', '3000', far()])
      expect(r.out).toMatch(/2 received/)
      expect(r.code).toBe(0)
    })
    it(`IPv${fam}: the netstack pings Linux with 3000-byte fragmented echoes`, async () => {
      const rtt = await stack.ping(linux(), { size: 3000, timeoutMs: 3000 })
      expect(rtt).toBeGreaterThanOrEqual(0)
      expect(rtt).toBeLessThan(3000)
    })
    it(`IPv${fam}: 5000-byte UDP datagrams, fragmented by Linux and by us, checksums accepted`, async () => {
      const r = await nsRun(path, 'python3', ['-c', PY_UDP, far(), '7', '5000'])
      expect(r.out).toMatch(/ECHO OK 5000/)
    })
    it(`IPv${fam}: Linux understands our port unreachable and our RST`, async () => {
      expect((await nsRun(path, 'python3', ['-c', PY_UDP, far(), '4999', '10'])).out).toMatch(/REFUSED/)
      expect((await nsRun(path, 'python3', ['-c', PY_TCP, far(), '4999'])).out).toMatch(/REFUSED/)
    })
    it(`IPv${fam}: Linux's port unreachable reaches our UDP socket; its RST fails connectTcp`, async () => {
      const s = stack.openUdp()
      const err = new Promise<Error>((res) => (s.onError = (e) => res(e)))
      s.send(new Uint8Array([1, 2, 3]), linux(), 4998)
      expect(await err).toMatchObject({ code: 'ECONNREFUSED' })
      s.close()
      await expect(stack.connectTcp({ host: linux(), port: 4998, timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    })
  }
  it('dropped nothing for bad checksums or malformed headers', () => {
    const bad = Object.entries(counters.snapshot()).filter(([k]) => /bad_|truncated|frag_overlap/.test(k))
    expect(bad).toEqual([])
    // the fragment paths really ran, both directions and both families
    for (const k of ['ipv4.reassembled', 'ipv6.reassembled', 'ipv4.fragmented', 'ipv6.fragmented']) expect(counters.get(k), k).toBeGreaterThan(0)
  })
})
