import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  emitCookieReply,
  emitInitiation,
  emitResponse,
  emitTransportHeader,
  messageType,
  parseCookieReply,
  parseInitiation,
  parseResponse,
  parseTransportHeader,
} from '../../src/wireguard/messages.js'

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })

describe('message codecs', () => {
  it('round-trip initiation, response and cookie reply', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), bytes(32), bytes(48), bytes(28), bytes(16), bytes(16), bytes(24), (s, r, e, st, ts, m1, m2, n) => {
        const b = new Uint8Array(148)
        emitInitiation({ sender: s, ephemeral: e, encryptedStatic: st, encryptedTimestamp: ts, mac1: m1, mac2: m2 }, b, 0)
        expect(parseInitiation(b, 0, 148)).toEqual({ sender: s, ephemeral: e, encryptedStatic: st, encryptedTimestamp: ts, mac1: m1, mac2: m2 })
        const rb = new Uint8Array(92)
        emitResponse({ sender: s, receiver: r, ephemeral: e, encryptedNothing: m1, mac1: m1, mac2: m2 }, rb, 0)
        expect(parseResponse(rb, 0, 92)).toMatchObject({ sender: s, receiver: r, ephemeral: e })
        const cb = new Uint8Array(64)
        emitCookieReply({ receiver: r, nonce: n, encryptedCookie: st.subarray(0, 32) }, cb, 0)
        expect(parseCookieReply(cb, 0, 64)).toEqual({ receiver: r, nonce: n, encryptedCookie: st.subarray(0, 32) })
      }),
      { numRuns: 50 },
    )
  })

  it('transport header carries 64-bit little-endian counters', () => {
    const b = new Uint8Array(32)
    emitTransportHeader(0x01020304, 2 ** 40 + 5, b, 0)
    expect(Array.from(b.subarray(0, 16))).toEqual([4, 0, 0, 0, 4, 3, 2, 1, 5, 0, 0, 0, 0, 1, 0, 0])
    expect(parseTransportHeader(b, 0, 32)).toEqual({ receiver: 0x01020304, counter: 2 ** 40 + 5 })
    b[15] = 0xff // beyond 2^53: never a valid counter
    expect(parseTransportHeader(b, 0, 32)!.counter).toBe(Infinity)
  })

  it('rejects wrong lengths, types and non-zero reserved bytes', () => {
    const b = new Uint8Array(148)
    b[0] = 1
    expect(parseInitiation(b, 0, 147)).toBeNull()
    expect(parseResponse(b, 0, 92)).toBeNull()
    b[2] = 1
    expect(parseInitiation(b, 0, 148)).toBeNull()
    expect(messageType(b)).toBe(0)
    expect(parseTransportHeader(new Uint8Array(31).fill(0).fill(4, 0, 1), 0, 31)).toBeNull()
  })

  it('never throw on arbitrary input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        messageType(b)
        parseInitiation(b, 0, b.length)
        parseResponse(b, 0, b.length)
        parseCookieReply(b, 0, b.length)
        parseTransportHeader(b, 0, b.length)
      }),
    )
  })
})
