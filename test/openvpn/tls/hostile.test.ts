// Property tests: every decoder on the receive path returns null (counted) on arbitrary input and never throws.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Counters } from '../../../src/core/counters.js'
import { DataChannel, Framing } from '../../../src/openvpn/tls/data.js'
import { splitKey2 } from '../../../src/openvpn/tls/keys.js'
import { TlsAuthWrap, TlsCryptWrap } from '../../../src/openvpn/tls/wrap.js'
import { parseKm2Server, MessageSplitter } from '../../../src/openvpn/tls/control.js'
import { parseDataHeader } from '../../../src/openvpn/tls/packet.js'

const key = Uint8Array.from({ length: 256 }, (_, i) => i)

describe('hostile input', () => {
  it('data channel decrypt (AEAD, CBC, every framing) never throws and never accepts forgeries', () => {
    const c = new Counters()
    const chans = [
      new DataChannel({ cipher: 'AES-256-GCM', keys: splitKey2(key), keyId: 0, peerId: 1, counters: c }),
      new DataChannel({ cipher: 'CHACHA20-POLY1305', keys: splitKey2(key), keyId: 0, counters: c, framing: Framing.STUB_SWAP }),
      new DataChannel({ cipher: 'AES-128-CBC', auth: 'SHA256', keys: splitKey2(key), keyId: 0, counters: c, framing: Framing.LZO_STUB }),
    ]
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0x30, 0x48, 0x49), (b, op) => {
        if (b.length) b[0] = op
        for (const ch of chans) expect(ch.decrypt(b)).toBeNull()
      }),
      { numRuns: 1500 },
    )
  })
  it('tls-auth / tls-crypt unwrap never throw and never accept forgeries', () => {
    const ws = [new TlsAuthWrap(key, 1, 'SHA256'), new TlsAuthWrap(key, undefined), new TlsCryptWrap(key, false)]
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        for (const w of ws) expect(w.unwrap(b)).toBeNull()
      }),
      { numRuns: 1500 },
    )
  })
  it('key-method 2, text splitter and data header parsers never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        const r = parseKm2Server(b)
        if (r && r !== 'incomplete') expect(r.length).toBeLessThanOrEqual(b.length)
        new MessageSplitter(() => {}).push(b)
        parseDataHeader(b, 0, b.length)
      }),
      { numRuns: 2000 },
    )
  })
})
