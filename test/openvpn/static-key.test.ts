import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readU32 } from '../../src/core/bytes.js'
import { OpenResult, StaticKeyCrypto, deriveStaticKeys, keySlots, type Opened } from '../../src/openvpn/static-key.js'

const KEY = new Uint8Array(256).map((_, i) => i)
const opened = (): Opened => ({ id: 0, time: 0, payload: new Uint8Array(0) })

describe('static key slots (key_direction_state_init)', () => {
  it('direction 0 sends with key #0 and receives with key #1; 1 the reverse; none uses #0 both ways', () => {
    expect(keySlots(0)).toEqual({ send: 0, recv: 1 })
    expect(keySlots(1)).toEqual({ send: 1, recv: 0 })
    expect(keySlots(undefined)).toEqual({ send: 0, recv: 0 })
  })
  it('each algorithm takes the leading bytes of its 64-byte slot', () => {
    const k = deriveStaticKeys(KEY, 0, 'AES-256-CBC', 'SHA256')
    expect(k.send.cipher).toEqual(KEY.slice(0, 32))
    expect(k.send.hmac).toEqual(KEY.slice(64, 96))
    expect(k.recv.cipher).toEqual(KEY.slice(128, 160))
    expect(k.recv.hmac).toEqual(KEY.slice(192, 224))
    const k1 = deriveStaticKeys(KEY, 1, 'AES-128-CBC', 'SHA1')
    expect(k1.send.cipher).toEqual(KEY.slice(128, 144))
    expect(k1.send.hmac).toEqual(KEY.slice(192, 212))
    expect(k1.recv.cipher).toEqual(KEY.slice(0, 16))
    expect(k1.recv.hmac).toEqual(KEY.slice(64, 84))
    const kb = deriveStaticKeys(KEY, undefined, 'AES-192-CBC', 'SHA512')
    expect(kb.send).toEqual(kb.recv)
    expect(kb.send.cipher).toEqual(KEY.slice(0, 24))
    expect(kb.send.hmac).toEqual(KEY.slice(64, 128))
  })
  it('a 128-bit-only key works only bidirectionally', () => {
    expect(() => deriveStaticKeys(KEY.slice(0, 128), 0, 'AES-256-CBC', 'SHA1')).toThrow(/needs 2048/)
    expect(() => deriveStaticKeys(KEY.slice(0, 128), undefined, 'AES-256-CBC', 'SHA1')).not.toThrow()
  })
})

describe('wire format HMAC || IV || CBC(pid || time || payload)', () => {
  it('seal output matches an independent construction and both ends decode each other', () => {
    const client = new StaticKeyCrypto(KEY, 1, 'AES-256-CBC', 'SHA256')
    const server = new StaticKeyCrypto(KEY, 0, 'AES-256-CBC', 'SHA256')
    const payload = randomBytes(37)
    const wire = client.seal(payload, 5, 0x5f000000)
    const iv = wire.subarray(32, 48)
    expect(wire.length).toBe(client.sealedLength(37))
    expect(wire.length).toBe(32 + 16 + 48)
    // independent check with the key bytes for direction 1 sending = key #1
    const hmac = createHmac('sha256', KEY.slice(192, 224)).update(wire.subarray(32)).digest()
    expect(wire.subarray(0, 32)).toEqual(hmac)
    // IVs differ per packet
    expect(client.seal(payload, 6, 0x5f000000).subarray(32, 48)).not.toEqual(iv)
    const d = createDecipheriv('aes-256-cbc', KEY.slice(128, 160), iv)
    const pt = Buffer.concat([d.update(wire.subarray(48)), d.final()])
    expect(readU32(pt, 0)).toBe(5)
    expect(readU32(pt, 4)).toBe(0x5f000000)
    expect(pt.subarray(8)).toEqual(payload)
    const o = opened()
    expect(server.open(wire, o)).toBe(OpenResult.OK)
    expect([o.id, o.time]).toEqual([5, 0x5f000000])
    expect(Buffer.from(o.payload)).toEqual(payload)
    // and the other way, from a hand-built server packet (key #0 sends)
    const iv2 = randomBytes(16)
    const c = createCipheriv('aes-256-cbc', KEY.slice(0, 32), iv2)
    const ct = Buffer.concat([c.update(Buffer.from([0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0xbb])), c.final()])
    const mac = createHmac('sha256', KEY.slice(64, 96)).update(Buffer.concat([iv2, ct])).digest()
    expect(client.open(Buffer.concat([mac, iv2, ct]), o)).toBe(OpenResult.OK)
    expect([o.id, o.time, [...o.payload]]).toEqual([9, 1, [0xaa, 0xbb]])
  })
  it('every cipher/auth pair round-trips, including block-aligned and empty payloads', () => {
    for (const cipher of ['AES-128-CBC', 'AES-192-CBC', 'AES-256-CBC'] as const) {
      for (const auth of ['SHA1', 'SHA256', 'SHA512'] as const) {
        const a = new StaticKeyCrypto(KEY, 0, cipher, auth)
        const b = new StaticKeyCrypto(KEY, 1, cipher, auth)
        for (const n of [0, 1, 8, 24, 1500]) {
          const p = randomBytes(n)
          const o = opened()
          expect(b.open(a.seal(p, n + 1, 77), o)).toBe(OpenResult.OK)
          expect(Buffer.from(o.payload)).toEqual(p)
          expect(o.id).toBe(n + 1)
        }
      }
    }
  })
  it('drops forged, truncated and wrong-direction packets', () => {
    const a = new StaticKeyCrypto(KEY, 0, 'AES-256-CBC', 'SHA1')
    const b = new StaticKeyCrypto(KEY, 1, 'AES-256-CBC', 'SHA1')
    const wire = a.seal(new Uint8Array(100), 1, 1)
    const o = opened()
    for (const i of [0, 19, 20, 40, wire.length - 1]) {
      const f = Buffer.from(wire)
      f[i] ^= 1
      expect(b.open(f, o)).toBe(OpenResult.BAD_HMAC)
    }
    expect(b.open(wire.subarray(0, 30), o)).toBe(OpenResult.SHORT)
    expect(a.open(wire, o)).toBe(OpenResult.BAD_HMAC) // own packet reflected back: other key
    const same = new StaticKeyCrypto(KEY, undefined, 'AES-256-CBC', 'SHA1')
    expect(same.open(same.seal(new Uint8Array(3), 1, 1), o)).toBe(OpenResult.OK)
  })
  it('rejects bad padding even with a valid HMAC', () => {
    const iv = randomBytes(16)
    const c = createCipheriv('aes-256-cbc', KEY.slice(0, 32), iv).setAutoPadding(false)
    const block = Buffer.alloc(16, 0)
    block[15] = 17 // invalid PKCS#7
    const ct = Buffer.concat([c.update(block), c.final()])
    const mac = createHmac('sha1', KEY.slice(64, 84)).update(Buffer.concat([iv, ct])).digest()
    const b = new StaticKeyCrypto(KEY, 1, 'AES-256-CBC', 'SHA1')
    expect(b.open(Buffer.concat([mac, iv, ct]), opened())).toBe(OpenResult.BAD_PADDING)
  })
  it('property: open() never throws on hostile input and never accepts it', () => {
    const b = new StaticKeyCrypto(KEY, 1, 'AES-256-CBC', 'SHA1')
    const o = opened()
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (m) => {
        expect(b.open(m, o)).not.toBe(OpenResult.OK)
      }),
    )
  })
  it('property: long-lived chaining gives the same plaintexts as fresh CBC for any sequence', () => {
    const a = new StaticKeyCrypto(KEY, 0, 'AES-128-CBC', 'SHA256')
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }), (ps) => {
        for (const p of ps) {
          const w = a.seal(p, 1, 2)
          const d = createDecipheriv('aes-128-cbc', KEY.slice(0, 16), w.subarray(32, 48))
          const pt = Buffer.concat([d.update(w.subarray(48)), d.final()])
          expect(pt.subarray(8)).toEqual(Buffer.from(p))
        }
      }),
    )
  })
})
