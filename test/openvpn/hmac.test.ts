import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { PacketHmac, type HmacAlg } from '../../src/openvpn/hmac.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const text = (s: string) => new TextEncoder().encode(s)

describe('PacketHmac', () => {
  it('matches RFC 4231 test case 2 (short key)', () => {
    const h = new PacketHmac('sha256', text('Jefe'))
    expect(hex(h.digest(text('what do ya want for nothing?')))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  it('matches RFC 4231 test case 6 (key longer than the block is hashed first)', () => {
    const key = new Uint8Array(131).fill(0xaa)
    const msg = text('Test Using Larger Than Block-Size Key - Hash Key First')
    expect(hex(new PacketHmac('sha256', key).digest(msg))).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54')
    expect(hex(new PacketHmac('sha512', key).digest(msg))).toBe(
      '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598',
    )
  })

  it('agrees with createHmac for every digest, key length and message length, one part or two', () => {
    const algs: HmacAlg[] = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']
    for (const alg of algs) {
      for (const keyLen of [0, 16, 20, 64, 65, 128, 129]) {
        const key = randomBytes(keyLen)
        const h = new PacketHmac(alg, key)
        // the same instance over many sizes: reused scratch space, growth past its initial room
        for (const n of [0, 1, 63, 64, 1424, 2048, 5000, 70_000, 17]) {
          const m = randomBytes(n)
          const want = createHmac(alg, key).update(m).digest('hex')
          expect(hex(h.digest(m)), `${alg} key ${keyLen} msg ${n}`).toBe(want)
          expect(hex(h.digest(m.subarray(0, n >> 1), m.subarray(n >> 1))), `${alg} two parts`).toBe(want)
          expect(h.size).toBe(Buffer.from(want, 'hex').length)
        }
      }
    }
  })

  it('returns a fresh buffer each time (a digest survives the next call)', () => {
    const h = new PacketHmac('sha256', randomBytes(32))
    const a = h.digest(text('one'))
    const aHex = hex(a)
    h.digest(text('two'))
    expect(hex(a)).toBe(aHex)
  })
})
