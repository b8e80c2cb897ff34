import { describe, expect, it } from 'vitest'
import { createCipheriv } from 'node:crypto'
import { Counters } from '../../../src/core/counters.js'
import { hex } from '../../../src/core/bytes.js'
import { DataChannel, Framing } from '../../../src/openvpn/tls/data.js'
import { splitKey2 } from '../../../src/openvpn/tls/keys.js'

const key2 = Uint8Array.from({ length: 256 }, (_, i) => (i * 31 + 7) & 0xff)
const ip = Uint8Array.from({ length: 60 }, (_, i) => (i === 0 ? 0x45 : i))

function pair(cipher: string, extra: { peerId?: number; framing?: Framing; auth?: string } = {}) {
  const c = new Counters()
  const client = new DataChannel({ cipher, keys: splitKey2(key2), keyId: 1, counters: c, ...extra })
  const server = new DataChannel({ cipher, keys: splitKey2(key2, true), keyId: 1, counters: c, ...extra })
  return { client, server, c }
}

describe('data channel', () => {
  for (const cipher of ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305', 'AES-256-CBC', 'AES-128-CBC']) {
    it(`${cipher}: round-trips both ways, refuses tampering and replays`, () => {
      const { client, server, c } = pair(cipher, { peerId: 5 })
      const w = client.encrypt(ip)
      expect(w[0]).toBe((9 << 3) | 1)
      expect(hex(w.subarray(1, 4))).toBe('000005')
      expect(server.decrypt(w)).toEqual(ip)
      expect(server.decrypt(w)).toBeNull()
      expect(c.get('openvpn.data.replay')).toBe(1)
      const t = client.encrypt(ip)
      t[t.length - 1] ^= 1
      expect(server.decrypt(t)).toBeNull()
      expect(client.decrypt(server.encrypt(ip))).toEqual(ip)
      // the client cannot decrypt its own packets (direction keys differ)
      expect(client.decrypt(client.encrypt(ip))).toBeNull()
    })
  }
  it('AES-256-GCM P_DATA_V2 layout: nonce = packet_id | implicit IV from the HMAC slot, AAD = header | packet_id', () => {
    const { client } = pair('AES-256-GCM', { peerId: 0x0a0b0c })
    client.encrypt(ip)
    const w = client.encrypt(ip) // packet-id 2
    const k = splitKey2(key2)
    const nonce = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from(k.encryptHmac.subarray(0, 8))])
    const e = createCipheriv('aes-256-gcm', k.encryptCipher.subarray(0, 32), nonce)
    e.setAAD(Buffer.from([0x49, 0x0a, 0x0b, 0x0c, 0, 0, 0, 2]))
    const ct = e.update(ip)
    e.final()
    expect(hex(w)).toBe('490a0b0c' + '00000002' + hex(e.getAuthTag()) + hex(ct))
  })
  it('P_DATA_V1 AEAD authenticates only the packet-id', () => {
    const { client, server } = pair('AES-128-GCM')
    const w = client.encrypt(ip)
    expect(w[0]).toBe((6 << 3) | 1)
    expect(server.decrypt(w)).toEqual(ip)
  })
  it('compression framing stubs', () => {
    for (const framing of [Framing.LZO_STUB, Framing.STUB_SWAP, Framing.STUB_V2]) {
      const { client, server } = pair('AES-256-GCM', { framing })
      expect(server.decrypt(client.encrypt(ip))).toEqual(ip)
      const p50 = Uint8Array.from([0x50, 1, 2])
      expect(server.decrypt(client.encrypt(p50))).toEqual(p50)
    }
    // stub-v2 leaves IP packets unchanged: the plaintext length is the packet length
    const { client } = pair('AES-256-GCM', { framing: Framing.STUB_V2, peerId: 0 })
    expect(client.encrypt(ip).length).toBe(4 + 4 + 16 + ip.length)
    const { client: lzo } = pair('AES-256-GCM', { framing: Framing.LZO_STUB, peerId: 0 })
    expect(lzo.encrypt(ip).length).toBe(4 + 4 + 16 + ip.length + 1)
  })
})
