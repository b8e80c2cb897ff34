// Property tests: the SOCKS UDP header decoder and the handshake state machines on arbitrary input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { emitSocks5UdpDatagram, parseSocks5UdpHeader } from '../../src/proxy/socks5.js'
import type { ProxyServer } from '../../src/proxy/server.js'
import { FakeDialer, connectRaw, handleCount, readAll, startProxy, waitFor } from './helpers.js'

describe('SOCKS5 UDP header decoder', () => {
  it('never throws and stays inside the buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const h = parseSocks5UdpHeader(b)
        if (h) {
          expect(h.dataOffset).toBeLessThanOrEqual(b.length)
          expect(h.port).toBeGreaterThanOrEqual(0)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips emit → parse for IPv4, IPv6 and names', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.ipV6().filter((a) => !a.includes('.')),
      fc.domain().filter((d) => d.length <= 255),
    )
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 64 }), (h, port, data) => {
        const p = parseSocks5UdpHeader(emitSocks5UdpDatagram(h, port, data))
        expect(p).not.toBeNull()
        expect(p!.port).toBe(port)
        expect(p!.frag).toBe(0)
        if (!h.includes(':')) expect(p!.host).toBe(h)
      }),
      { numRuns: 500 },
    )
  })
})

describe('handshake state machines on random input', () => {
  let proxy: ProxyServer
  let port: number
  beforeAll(async () => {
    // A dialer that always refuses (TCP and UDP), so no request leaves the machine and every
    // connection must end.
    const dialer = new FakeDialer('refuse')
    dialer.openUdp = () => Promise.reject(Object.assign(new Error('no udp'), { code: 'ENETUNREACH' }))
    ;({ proxy, port } = await startProxy({ dialer, handshakeTimeoutMs: 200 }))
  })
  afterAll(async () => {
    await proxy.close()
  })

  it('every connection ends closed and nothing leaks', async () => {
    const before = handleCount()
    const first = fc.constantFrom(4, 5, 0x47, 0x43, 0)
    await fc.assert(
      fc.asyncProperty(first, fc.uint8Array({ maxLength: 40 }), fc.boolean(), async (b0, rest, eof) => {
        const s = await connectRaw(port)
        const all = readAll(s, 3000)
        s.write(Uint8Array.of(b0, ...rest))
        if (eof) s.end()
        const r = await all
        expect(r.closed).toBe(true)
      }),
      { numRuns: 40 },
    )
    await waitFor(() => proxy.connections === 0)
    await waitFor(() => handleCount() <= before)
  })
})
