// HMAC (RFC 2104) for OpenVPN's per-packet authentication (static key mode; TLS mode with a CBC
// cipher): HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' the key padded to the block
// size (hashed first when longer). The two padded key blocks are built once per key; each packet
// then costs two one-shot `crypto.hash` calls (node ≥ 20.12), which reuse a cached digest
// implementation. `createHmac` per packet instead looks the digest up by name and builds a keyed
// context every time: measured here at 1424 bytes, 3.5 µs against 3.2 µs (SHA-256).

import { hash } from 'node:crypto'

export type HmacAlg = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'

const SIZE: Record<HmacAlg, number> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 }
const BLOCK: Record<HmacAlg, number> = { md5: 64, sha1: 64, sha224: 64, sha256: 64, sha384: 128, sha512: 128 }

/** A keyed HMAC for one direction of a data channel. Not reentrant (shares scratch buffers). */
export class PacketHmac {
  readonly size: number
  private readonly block: number
  /** (K' ^ ipad) followed by room for the message. */
  private inner: Buffer
  /** (K' ^ opad) followed by the inner digest. */
  private readonly outer: Buffer

  constructor(
    private readonly alg: HmacAlg,
    key: Uint8Array,
  ) {
    this.size = SIZE[alg]
    this.block = BLOCK[alg]
    const k = key.length > this.block ? hash(alg, key, 'buffer') : key
    this.inner = Buffer.alloc(this.block + 2048, 0)
    this.outer = Buffer.alloc(this.block + this.size, 0)
    for (let i = 0; i < this.block; i++) {
      const b = i < k.length ? k[i] : 0
      this.inner[i] = b ^ 0x36
      this.outer[i] = b ^ 0x5c
    }
  }

  /** HMAC over `a` followed by `b` (if given), as a fresh Buffer of `size` bytes. */
  digest(a: Uint8Array, b?: Uint8Array): Buffer {
    const n = a.length + (b ? b.length : 0)
    if (this.inner.length < this.block + n) {
      const grown = Buffer.alloc(this.block + Math.max(n, 2 * (this.inner.length - this.block)))
      this.inner.copy(grown, 0, 0, this.block)
      this.inner = grown
    }
    this.inner.set(a, this.block)
    if (b) this.inner.set(b, this.block + a.length)
    const ih = hash(this.alg, this.inner.subarray(0, this.block + n), 'buffer')
    ih.copy(this.outer, this.block)
    return hash(this.alg, this.outer, 'buffer')
  }
}
