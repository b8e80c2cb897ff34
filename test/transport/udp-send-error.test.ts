import { describe, expect, it } from 'vitest'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { UdpTransport } from '../../src/transport/udp.js'

describe('UdpTransport.send on a dead socket', () => {
  it('never throws; the loss is counted and onClose reports it once', async () => {
    const peer = createSocket('udp4')
    peer.bind(0, '127.0.0.1')
    await once(peer, 'listening')
    const t = await UdpTransport.connect({ host: '127.0.0.1', port: peer.address().port, family: 4 })
    const closes: (Error | undefined)[] = []
    t.attach(() => {}, (e) => closes.push(e))
    // break the socket underneath the transport (as a disconnect would)
    ;(t as unknown as { sock: { disconnect(): void } }).sock.disconnect()
    expect(() => t.send(new Uint8Array([1, 2, 3]))).not.toThrow()
    expect(t.send(new Uint8Array([4]))).toBe(false)
    await new Promise((r) => setImmediate(r))
    expect(closes.length).toBe(1)
    peer.close()
  })
})
