import { describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { hex } from '../../../src/core/bytes.js'
import { tls1Prf, openvpnPrfKeys, splitKey2 } from '../../../src/openvpn/tls/keys.js'
import { binarySkipReason } from '../../harness/netns.js'

const noOpenssl = binarySkipReason('keys.test.ts', ['openssl']) !== null

const enc = (s: string) => new TextEncoder().encode(s)
const seq = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => (start + i * 13) & 0xff)

/** Independent TLS1-PRF: OpenSSL's KDF through the CLI (digest MD5-SHA1 = the TLS 1.0 PRF). */
function opensslPrf(secret: Uint8Array, seed: Uint8Array, len: number): string {
  const out = execFileSync('openssl', ['kdf', '-keylen', String(len), '-kdfopt', 'digest:MD5-SHA1', '-kdfopt', `hexsecret:${hex(secret)}`, '-kdfopt', `hexseed:${hex(seed)}`, 'TLS1-PRF'], { encoding: 'utf8' })
  return out.trim().replace(/:/g, '').toLowerCase()
}

describe('TLS 1.0 PRF', () => {
  it("matches OpenVPN's unit-test vector (tests/unit_tests/openvpn/test_crypto.c crypto_test_tls_prf)", () => {
    const secret = enc('Lorem ipsum dolor sit amet, consectetur adipisici elit, sed eiusmod tempor incidunt ut labore et dolore magna aliqua.')
    const seed = enc('Quis aute iure reprehenderit in voluptate velit esse cillum dolore')
    expect(hex(tls1Prf(secret, '', seed, 32))).toBe('d98c8518c85e946927916acfc2d592fbb1567e4b4b1459e6a904ac2ddab72d67')
  })
  it.skipIf(noOpenssl)('matches OpenSSL TLS1-PRF for odd/even secrets and long outputs', () => {
    for (const [sl, len] of [[48, 48], [47, 256], [1, 20], [100, 133]]) {
      const secret = seq(sl, sl)
      const seed = seq(77, 5)
      expect(hex(tls1Prf(secret, 'OpenVPN master secret', seed, len))).toBe(opensslPrf(secret, new Uint8Array([...enc('OpenVPN master secret'), ...seed]), len))
    }
  })
  it.skipIf(noOpenssl)('OpenVPN key expansion = two chained PRFs with OpenVPN labels, randoms and session ids', () => {
    const client = { preMaster: seq(48, 1), random1: seq(32, 2), random2: seq(32, 3) }
    const server = { random1: seq(32, 4), random2: seq(32, 5) }
    const csid = seq(8, 6)
    const ssid = seq(8, 7)
    const master = opensslPrf(client.preMaster, new Uint8Array([...enc('OpenVPN master secret'), ...client.random1, ...server.random1]), 48)
    const want = opensslPrf(
      Uint8Array.from(Buffer.from(master, 'hex')),
      new Uint8Array([...enc('OpenVPN key expansion'), ...client.random2, ...server.random2, ...csid, ...ssid]),
      256,
    )
    const got = openvpnPrfKeys(client, server, csid, ssid)
    expect(hex(got)).toBe(want)
    const c = splitKey2(got)
    const s = splitKey2(got, true)
    expect(c.encryptCipher).toEqual(s.decryptCipher)
    expect(c.decryptHmac).toEqual(s.encryptHmac)
    // the client sends with key #0 (ssl.c init_key_contexts: client KEY_DIRECTION_NORMAL)
    expect(hex(c.encryptCipher)).toBe(want.slice(0, 128))
  })
})
