import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fromHex } from '../../../src/core/bytes.js'
import { finishChecksum, internetChecksum, onesSum, pseudoHeaderSum } from '../../../src/netstack/wire/checksum.js'
import { parseIp } from '../../../src/netstack/addr.js'

// Naive reference: sum 16-bit words with end-around carry after every addition (RFC 1071 §1).
function naive(b: Uint8Array): number {
  let s = 0
  for (let i = 0; i < b.length; i += 2) {
    s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0)
    if (s > 0xffff) s = (s & 0xffff) + 1
  }
  return ~s & 0xffff
}

describe('RFC 1071 checksum', () => {
  it('§3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
    const b = fromHex('0001f203f4f5f6f7')
    const s = onesSum(b, 0, b.length)
    expect(s).toBe(0x0001 + 0xf203 + 0xf4f5 + 0xf6f7) // unfolded 2ddf0
    expect(finishChecksum(s)).toBe(~0xddf2 & 0xffff)
    expect(internetChecksum(b, 0, b.length)).toBe(0x220d)
  })
  it('odd length pads the final byte with zero (§4.1)', () => {
    const b = fromHex('0001f203f4f5f6f7ab')
    expect(internetChecksum(b, 0, 9)).toBe(naive(b))
    expect(internetChecksum(b, 0, 9)).toBe(finishChecksum(0x2ddf0 + 0xab00))
  })
  it('a buffer containing its own checksum verifies to zero', () => {
    const b = fromHex('4500003c1c4640004006' + '0000' + 'ac100a63ac100a0c') // IPv4 header, checksum zeroed
    const h = b.subarray(0, 20)
    const ck = internetChecksum(h, 0, 20)
    h[10] = ck >> 8
    h[11] = ck & 0xff
    expect(internetChecksum(h, 0, 20)).toBe(0)
    expect(ck).toBe(0xb1e6) // the classic worked example (172.16.10.99 → 172.16.10.12)
  })
  it('honours the offset and chaining (incremental sums)', () => {
    const b = fromHex('ffff0001f203f4f5f6f7ffff')
    expect(internetChecksum(b, 2, 8)).toBe(0x220d)
    const part = onesSum(b, 2, 4)
    expect(finishChecksum(onesSum(b, 6, 4, part))).toBe(0x220d)
  })
  it('matches the naive reference on random data (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(0xffff), (b, init) => {
        const withInit = new Uint8Array(b.length + 2) // init as a leading word
        withInit.set([init >> 8, init & 0xff])
        withInit.set(b, 2)
        expect(finishChecksum(onesSum(b, 0, b.length, init))).toBe(naive(withInit.subarray(0, 2 + b.length)))
      }),
      { numRuns: 300 },
    )
  })
  it('fast (aligned 32-bit) and slow paths agree at every alignment and length (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), fc.nat(7), fc.nat(5), fc.nat(0xffff), (b, shift, cut, init) => {
        const backing = new Uint8Array(b.length + 16)
        const view = backing.subarray(shift) // byteOffset 0..7: every alignment
        view.set(b, 1)
        const len = Math.max(0, b.length - cut)
        const ref = new Uint8Array(len + 2)
        ref.set([init >> 8, init & 0xff])
        ref.set(b.subarray(0, len), 2)
        expect(finishChecksum(onesSum(view, 1, len, init))).toBe(naive(ref))
      }),
      { numRuns: 500 },
    )
  })
  it('stays exact on the largest packets', () => {
    const b = new Uint8Array(65535).fill(0xff)
    expect(internetChecksum(b, 0, b.length)).toBe(naive(b))
    expect(finishChecksum(onesSum(b, 0, b.length, 0xfffffff0))).toBe(finishChecksum(onesSum(b, 0, b.length) + 0xfffffff0))
  })
  it('pseudo-header sums for IPv4 and IPv6', () => {
    const v4 = pseudoHeaderSum(parseIp('10.0.0.1')!, parseIp('10.0.0.2')!, 6, 40)
    expect(v4).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 40)
    const v6 = pseudoHeaderSum(parseIp('fe80::1')!, parseIp('fe80::2')!, 58, 0x10008)
    expect(v6).toBe(0xfe80 + 1 + 0xfe80 + 2 + 58 + 1 + 8)
  })
})
