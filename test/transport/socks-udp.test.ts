// UDP tunnel transport through SOCKS5 UDP ASSOCIATE (RFC 1928 §7) against a scripted proxy on
// loopback: the ASSOCIATE request, datagrams wrapped with the domain-name header, replies
// unwrapped and filtered (foreign source, wrong port, fragments, malformed), the association
// ending with its TCP control connection, refusals.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { connectTransport } from '../../src/transport/connect.js'
import { parseSocksUdpHeader } from '../../src/transport/socks-udp.js'
import type { Transport } from '../../src/tunnel/types.js'
import { Counters } from '../../src/core/counters.js'
import type { BurrowError } from '../../src/core/errors.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

const NAME = 'vpn.example.test'
const HDR = [0, 0, 0, 3, NAME.length, ...Buffer.from(NAME), 0x04, 0xaa] // → vpn.example.test:1194

interface Assoc {
  control: Promise<Socket>
  relay: UdpSocket
  relayPort: number
  port: number
  request: Promise<Buffer>
  received: Array<{ msg: Buffer; from: RemoteInfo }>
  nextDatagram(): Promise<{ msg: Buffer; from: RemoteInfo }>
}

/** A SOCKS5 proxy answering UDP ASSOCIATE with `reply` (default: success, relay 127.0.0.1:relayPort). */
async function scriptedAssociate(reply?: (relayPort: number) => number[]): Promise<Assoc> {
  const relay = createSocket('udp4')
  relay.bind(0, '127.0.0.1')
  await once(relay, 'listening')
  const relayPort = relay.address().port
  const received: Array<{ msg: Buffer; from: RemoteInfo }> = []
  let wake: (() => void) | undefined
  relay.on('message', (msg, from) => {
    received.push({ msg, from })
    wake?.()
  })
  let resolveCtl!: (s: Socket) => void
  let resolveReq!: (b: Buffer) => void
  const control = new Promise<Socket>((r) => (resolveCtl = r))
  const request = new Promise<Buffer>((r) => (resolveReq = r))
  const srv = createServer((s) => {
    let buf = Buffer.alloc(0)
    let stage = 0
    s.on('error', () => {})
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (stage === 0 && buf.length >= 3) {
        s.write(Buffer.from([5, 0]))
        buf = buf.subarray(3)
        stage = 1
      }
      if (stage === 1 && buf.length >= 10) {
        resolveReq(buf.subarray(0, 10))
        stage = 2
        s.write(Buffer.from(reply ? reply(relayPort) : [5, 0, 0, 1, 127, 0, 0, 1, relayPort >> 8, relayPort & 0xff]))
        resolveCtl(s)
      }
    })
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  cleanups.push(() => {
    void control.then((s) => s.destroy())
    srv.close()
    relay.close()
  })
  let taken = 0
  return {
    control,
    relay,
    relayPort,
    port: (srv.address() as { port: number }).port,
    request,
    received,
    async nextDatagram() {
      while (received.length <= taken) await new Promise<void>((r) => (wake = r))
      return received[taken++]
    },
  }
}

function collect(t: Transport): { msgs: number[][]; closed: Promise<Error | undefined> } {
  const msgs: number[][] = []
  let onClose!: (e?: Error) => void
  const closed = new Promise<Error | undefined>((r) => (onClose = r))
  t.attach((m) => msgs.push([...m]), (e) => onClose(e))
  return { msgs, closed }
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms))

describe('SOCKS5 UDP ASSOCIATE transport', () => {
  it('wraps with the domain-name header, unwraps replies, drops fragments / foreign / malformed', async () => {
    const a = await scriptedAssociate()
    const counters = new Counters()
    const t = await connectTransport({ proto: 'udp', host: NAME, port: 1194, counters, proxy: { type: 'socks5', host: '127.0.0.1', port: a.port } })
    cleanups.push(() => t.close())
    expect([...(await a.request)]).toEqual([5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
    const got = collect(t)
    expect(t.send(Uint8Array.from([1, 2, 3]))).toBe(true)
    const d = await a.nextDatagram()
    expect([...d.msg]).toEqual([...HDR, 1, 2, 3])
    const back = (hdr: number[], payload: number[]) => a.relay.send(Buffer.from([...hdr, ...payload]), d.from.port, '127.0.0.1')
    const v4 = (ip: number[], port = 1194) => [0, 0, 0, 1, ...ip, port >> 8, port & 0xff]
    back(v4([10, 0, 0, 1]), [7, 7]) // the relay resolved the name to 10.0.0.1: accepted, and now fixed
    await tick()
    back(v4([10, 0, 0, 2]), [6]) // another host
    back(v4([10, 0, 0, 1], 53), [6]) // another port
    back([0, 0, 1, ...v4([10, 0, 0, 1]).slice(3)], [6]) // FRAG 1
    back([0, 0, 0, 9, 1], [6]) // unknown ATYP
    back([1, 0, 0, 1, 10, 0, 0, 1, 4, 0xaa], [6]) // RSV not zero
    back(v4([10, 0, 0, 1]), [8])
    await tick()
    expect(got.msgs).toEqual([[7, 7], [8]])
    const n = (k: string) => counters.get(k)
    expect(n('socks_udp.foreign_source')).toBe(2)
    expect(n('socks_udp.fragment')).toBe(1)
    expect(n('socks_udp.malformed')).toBe(2)
  })

  it('the tunnel fails when the control connection closes', async () => {
    const a = await scriptedAssociate()
    const t = await connectTransport({ proto: 'udp', host: NAME, port: 1194, proxy: { type: 'socks5', host: '127.0.0.1', port: a.port } })
    const got = collect(t)
    ;(await a.control).destroy()
    const err = (await got.closed) as BurrowError
    expect(err.message).toMatch(/SOCKS5 control connection closed; the UDP association is gone/)
    expect(t.send(Uint8Array.from([1]))).toBe(false)
  })

  it('an unspecified relay address means the proxy address', async () => {
    const a = await scriptedAssociate((p) => [5, 0, 0, 1, 0, 0, 0, 0, p >> 8, p & 0xff])
    const t = await connectTransport({ proto: 'udp', host: '10.9.9.9', port: 1194, proxy: { type: 'socks5', host: '127.0.0.1', port: a.port } })
    cleanups.push(() => t.close())
    t.send(Uint8Array.from([5]))
    const d = await a.nextDatagram()
    expect([...d.msg]).toEqual([0, 0, 0, 1, 10, 9, 9, 9, 4, 0xaa, 5])
  })

  it('refusals and bad replies are clear errors', async () => {
    const refused = await scriptedAssociate(() => [5, 7, 0, 1, 0, 0, 0, 0, 0, 0])
    await expect(connectTransport({ proto: 'udp', host: NAME, port: 1194, proxy: { type: 'socks5', host: '127.0.0.1', port: refused.port } })).rejects.toThrow(/UDP ASSOCIATE failed: command not supported/)
    const port0 = await scriptedAssociate(() => [5, 0, 0, 1, 127, 0, 0, 1, 0, 0])
    await expect(connectTransport({ proto: 'udp', host: NAME, port: 1194, proxy: { type: 'socks5', host: '127.0.0.1', port: port0.port } })).rejects.toThrow(/relay port 0/)
  })
})

describe('parseSocksUdpHeader', () => {
  it('parses IPv4, IPv6 and domain headers', () => {
    expect(parseSocksUdpHeader(Uint8Array.from([0, 0, 0, 1, 10, 0, 0, 1, 0, 53, 9]))).toEqual({ frag: 0, host: '10.0.0.1', port: 53, dataOffset: 10 })
    expect(parseSocksUdpHeader(Uint8Array.from([0, 0, 0, 4, 0x20, 1, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0, 80]))).toEqual({ frag: 0, host: '2001:db8::1', port: 80, dataOffset: 22 })
    expect(parseSocksUdpHeader(Uint8Array.from(HDR))).toEqual({ frag: 0, host: NAME, port: 1194, dataOffset: HDR.length })
    expect(parseSocksUdpHeader(Uint8Array.from([0, 0, 0, 3, 0, 0, 1]))).toBeNull()
    expect(parseSocksUdpHeader(Uint8Array.from([0, 0, 0, 1, 10, 0, 0, 1, 0]))).toBeNull()
  })
  it('never throws on arbitrary bytes, and the payload offset stays inside the datagram', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const h = parseSocksUdpHeader(b)
        if (h) expect(h.dataOffset).toBeLessThanOrEqual(b.length)
      }),
    )
  })
})
