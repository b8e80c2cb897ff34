// MD4 message digest (RFC 1320), needed only for NTLM's password hash (MS-NLMP §3.3.2 NTOWFv2:
// MD4(UNICODE(password))). node:crypto on OpenSSL 3 has no MD4 without the legacy provider, so
// this is a small straight implementation of RFC 1320 §3.1–3.5. Not for any other use: MD4 is broken.

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n))

/** MD4 of `msg` (16 bytes). */
export function md4(msg: Uint8Array): Uint8Array {
  // §3.1–3.2: pad with 0x80, zeros to 56 mod 64, then the bit length as 64-bit little endian
  const len = msg.length
  const padded = new Uint8Array((((len + 8) >>> 6) + 1) << 6)
  padded.set(msg)
  padded[len] = 0x80
  const bits = len * 8
  const lo = bits >>> 0
  const hi = Math.floor(bits / 0x100000000) >>> 0
  for (let i = 0; i < 4; i++) {
    padded[padded.length - 8 + i] = (lo >>> (8 * i)) & 0xff
    padded[padded.length - 4 + i] = (hi >>> (8 * i)) & 0xff
  }
  // §3.3: initial state
  let a = 0x67452301
  let b = 0xefcdab89
  let c = 0x98badcfe
  let d = 0x10325476
  const x = new Int32Array(16)
  const f = (p: number, q: number, r: number) => (p & q) | (~p & r)
  const g = (p: number, q: number, r: number) => (p & q) | (p & r) | (q & r)
  const h = (p: number, q: number, r: number) => p ^ q ^ r
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + 4 * i
      x[i] = padded[j] | (padded[j + 1] << 8) | (padded[j + 2] << 16) | (padded[j + 3] << 24)
    }
    const aa = a
    const bb = b
    const cc = c
    const dd = d
    // §3.4 round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
    for (const k of [0, 4, 8, 12]) {
      a = rotl((a + f(b, c, d) + x[k]) | 0, 3)
      d = rotl((d + f(a, b, c) + x[k + 1]) | 0, 7)
      c = rotl((c + f(d, a, b) + x[k + 2]) | 0, 11)
      b = rotl((b + f(c, d, a) + x[k + 3]) | 0, 19)
    }
    // round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
    for (const k of [0, 1, 2, 3]) {
      a = rotl((a + g(b, c, d) + x[k] + 0x5a827999) | 0, 3)
      d = rotl((d + g(a, b, c) + x[k + 4] + 0x5a827999) | 0, 5)
      c = rotl((c + g(d, a, b) + x[k + 8] + 0x5a827999) | 0, 9)
      b = rotl((b + g(c, d, a) + x[k + 12] + 0x5a827999) | 0, 13)
    }
    // round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s
    for (const k of [0, 2, 1, 3]) {
      a = rotl((a + h(b, c, d) + x[k] + 0x6ed9eba1) | 0, 3)
      d = rotl((d + h(a, b, c) + x[k + 8] + 0x6ed9eba1) | 0, 9)
      c = rotl((c + h(d, a, b) + x[k + 4] + 0x6ed9eba1) | 0, 11)
      b = rotl((b + h(c, d, a) + x[k + 12] + 0x6ed9eba1) | 0, 15)
    }
    a = (a + aa) | 0
    b = (b + bb) | 0
    c = (c + cc) | 0
    d = (d + dd) | 0
  }
  // §3.5: output A, B, C, D little endian
  const out = new Uint8Array(16)
  ;[a, b, c, d].forEach((w, i) => {
    for (let k = 0; k < 4; k++) out[4 * i + k] = (w >>> (8 * k)) & 0xff
  })
  return out
}
