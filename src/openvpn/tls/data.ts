// OpenVPN TLS-mode data channel (OpenVPN source crypto.c openvpn_encrypt_aead / openvpn_decrypt_aead,
// openvpn_encrypt_v1; ssl.c tls_prepend_opcode_v2; comp.h / compstub.c framing):
//  AEAD (AES-128/256-GCM, CHACHA20-POLY1305), "old" non-epoch format:
//    P_DATA_V2: op|peer_id(3) | packet_id(4) | tag(16) | ciphertext
//    nonce = packet_id(4) | implicit IV (first 8 bytes of the direction's HMAC key slot)
//    AAD   = op|peer_id(3) | packet_id   (P_DATA_V1: packet_id only)
//  CBC + HMAC (legacy / data-ciphers-fallback): op[|peer_id] | HMAC(IV|ct) | IV | CBC(packet_id|payload)
//  Compression framing stubs (never compressing): comp-lzo no → 0xFA prefix; compress stub →
//  0xFB with the first byte swapped to the end; compress stub-v2 → 0x50 0x00 escape only when the
//  payload starts with 0x50.
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto'
import { readU32, writeU32 } from '../../core/bytes.js'
import { BurrowError, ErrorCode } from '../../core/errors.js'
import type { Counters } from '../../core/counters.js'
import { Opcode, emitDataHeader, opByte, parseDataHeader } from './packet.js'
import { ReplayWindow } from './replay.js'
import { PacketHmac } from '../hmac.js'
import { authDigest } from './wrap.js'
import type { DirectionalKeys } from './keys.js'

export const AEAD_TAG_LEN = 16
export const PING_MAGIC = Uint8Array.from([0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48])
/** OCC_EXIT / explicit-exit-notify message (occ.h): OCC_STRING then OCC_EXIT (6). */
export const OCC_STRING = Uint8Array.from([0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c])
export const OCC_EXIT = 6

export const Framing = { NONE: 'none', LZO_STUB: 'lzo-stub', STUB_SWAP: 'stub-swap', STUB_V2: 'stub-v2' } as const
export type Framing = (typeof Framing)[keyof typeof Framing]

interface CipherSpec {
  node: string
  keyLen: number
  aead: boolean
  ivLen: number
}

export const DATA_CIPHERS: Record<string, CipherSpec> = {
  'AES-128-GCM': { node: 'aes-128-gcm', keyLen: 16, aead: true, ivLen: 12 },
  'AES-192-GCM': { node: 'aes-192-gcm', keyLen: 24, aead: true, ivLen: 12 },
  'AES-256-GCM': { node: 'aes-256-gcm', keyLen: 32, aead: true, ivLen: 12 },
  'CHACHA20-POLY1305': { node: 'chacha20-poly1305', keyLen: 32, aead: true, ivLen: 12 },
  'AES-128-CBC': { node: 'aes-128-cbc', keyLen: 16, aead: false, ivLen: 16 },
  'AES-192-CBC': { node: 'aes-192-cbc', keyLen: 24, aead: false, ivLen: 16 },
  'AES-256-CBC': { node: 'aes-256-cbc', keyLen: 32, aead: false, ivLen: 16 },
}

export function cipherSpec(name: string): CipherSpec {
  const s = DATA_CIPHERS[name.toUpperCase()]
  if (!s) throw new BurrowError(ErrorCode.ERR_CONFIG, `unsupported data cipher ${name} (supported: ${Object.keys(DATA_CIPHERS).join(', ')})`)
  return s
}

export interface DataChannelOptions {
  cipher: string
  /** --auth digest for CBC ciphers. */
  auth?: string
  keys: DirectionalKeys
  keyId: number
  /** Pushed peer-id: use P_DATA_V2. Undefined: P_DATA_V1. */
  peerId?: number
  framing?: Framing
  counters?: Counters
  replayWindow?: number
}

/** One key state's data channel: encrypt/decrypt whole tunnel packets synchronously. */
export class DataChannel {
  readonly keyId: number
  readonly cipher: string
  private readonly spec: CipherSpec
  private readonly encKey: Buffer
  private readonly decKey: Buffer
  private readonly encIv = Buffer.alloc(12)
  private readonly decIv = Buffer.alloc(12)
  private readonly hmacLen: number = 0
  private readonly encMac?: PacketHmac
  private readonly decMac?: PacketHmac
  private sendPid = 0
  private readonly replay: ReplayWindow
  private readonly v2: boolean
  private readonly peerId: number
  private readonly framing: Framing
  private readonly counters?: Counters
  /** Packets / bytes through this key (for reneg-pkts / reneg-bytes). */
  packets = 0
  bytes = 0
  /** Time of the last authenticated packet received (caller-supplied clock). */
  constructor(o: DataChannelOptions) {
    this.spec = cipherSpec(o.cipher)
    this.cipher = o.cipher.toUpperCase()
    this.keyId = o.keyId
    this.encKey = Buffer.from(o.keys.encryptCipher.subarray(0, this.spec.keyLen))
    this.decKey = Buffer.from(o.keys.decryptCipher.subarray(0, this.spec.keyLen))
    if (this.spec.aead) {
      this.encIv.set(o.keys.encryptHmac.subarray(0, 8), 4)
      this.decIv.set(o.keys.decryptHmac.subarray(0, 8), 4)
    } else {
      const d = authDigest(o.auth ?? 'SHA1')
      this.hmacLen = d.size
      this.encMac = new PacketHmac(d.alg, o.keys.encryptHmac.subarray(0, d.size))
      this.decMac = new PacketHmac(d.alg, o.keys.decryptHmac.subarray(0, d.size))
    }
    this.v2 = o.peerId !== undefined
    this.peerId = o.peerId ?? 0
    this.framing = o.framing ?? Framing.NONE
    this.counters = o.counters
    this.replay = new ReplayWindow(o.replayWindow ?? 256)
  }

  /** Bytes this channel adds in front of the payload / in total (worst case). */
  get overhead(): number {
    const hdr = this.v2 ? 4 : 1
    const fr = this.framing === Framing.NONE ? 0 : 2
    return this.spec.aead ? hdr + 4 + AEAD_TAG_LEN + fr : hdr + this.hmacLen + 16 + 4 + 16 + fr
  }

  private frame(p: Uint8Array): Uint8Array {
    switch (this.framing) {
      case Framing.NONE:
        return p
      case Framing.LZO_STUB: {
        const o = new Uint8Array(p.length + 1)
        o[0] = 0xfa
        o.set(p, 1)
        return o
      }
      case Framing.STUB_SWAP: {
        if (p.length === 0) return p
        const o = new Uint8Array(p.length + 1)
        o.set(p, 0)
        o[p.length] = p[0]
        o[0] = 0xfb
        return o
      }
      case Framing.STUB_V2: {
        if (p.length === 0 || p[0] !== 0x50) return p
        const o = new Uint8Array(p.length + 2)
        o[0] = 0x50
        o[1] = 0
        o.set(p, 2)
        return o
      }
    }
  }

  private unframe(p: Uint8Array): Uint8Array | null {
    if (p.length === 0) return p
    switch (this.framing) {
      case Framing.NONE:
        return p
      case Framing.LZO_STUB:
        return p[0] === 0xfa ? p.subarray(1) : null
      case Framing.STUB_SWAP: {
        if (p[0] !== 0xfb) return null
        const o = p.slice(0, p.length - 1)
        o[0] = p[p.length - 1]
        return o
      }
      case Framing.STUB_V2:
        if (p[0] !== 0x50) return p
        return p.length >= 2 && p[1] === 0 ? p.subarray(2) : null
    }
  }

  /** Encrypt one payload (an IP packet, a ping or OCC message) into a wire packet. */
  encrypt(payload: Uint8Array): Uint8Array {
    const plain = this.frame(payload)
    const hdrLen = this.v2 ? 4 : 1
    this.sendPid = (this.sendPid + 1) >>> 0
    if (this.sendPid === 0) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'data channel packet-id wrapped; renegotiation overdue')
    this.packets++
    this.bytes += payload.length
    if (this.spec.aead) {
      const out = new Uint8Array(hdrLen + 4 + AEAD_TAG_LEN + plain.length)
      emitDataHeader({ opcode: this.v2 ? Opcode.P_DATA_V2 : Opcode.P_DATA_V1, keyId: this.keyId, peerId: this.peerId }, out, 0)
      writeU32(out, hdrLen, this.sendPid)
      writeU32(this.encIv, 0, this.sendPid)
      const c = createCipheriv(this.spec.node as 'aes-256-gcm', this.encKey, this.encIv, { authTagLength: AEAD_TAG_LEN })
      c.setAAD(this.v2 ? out.subarray(0, hdrLen + 4) : out.subarray(hdrLen, hdrLen + 4))
      const ct = c.update(plain)
      c.final()
      out.set(c.getAuthTag(), hdrLen + 4)
      out.set(ct, hdrLen + 4 + AEAD_TAG_LEN)
      return out
    }
    const iv = randomBytes(16)
    const c = createCipheriv(this.spec.node, this.encKey, iv)
    const pid = new Uint8Array(4)
    writeU32(pid, 0, this.sendPid)
    const ct = Buffer.concat([c.update(pid), c.update(plain), c.final()])
    const mac = this.encMac!.digest(iv, ct)
    const out = new Uint8Array(hdrLen + this.hmacLen + 16 + ct.length)
    emitDataHeader({ opcode: this.v2 ? Opcode.P_DATA_V2 : Opcode.P_DATA_V1, keyId: this.keyId, peerId: this.peerId }, out, 0)
    out.set(mac, hdrLen)
    out.set(iv, hdrLen + this.hmacLen)
    out.set(ct, hdrLen + this.hmacLen + 16)
    return out
  }

  /** Decrypt a received data packet; null (counted) when it fails or is a replay. */
  decrypt(wire: Uint8Array): Uint8Array | null {
    const h = parseDataHeader(wire, 0, wire.length, this.counters)
    if (!h) return null
    const body = wire.subarray(h.headerLen)
    let plain: Uint8Array
    let pid: number
    if (this.spec.aead) {
      if (body.length < 4 + AEAD_TAG_LEN) return this.drop('short')
      pid = readU32(body, 0)
      writeU32(this.decIv, 0, pid)
      const d = createDecipheriv(this.spec.node as 'aes-256-gcm', this.decKey, this.decIv, { authTagLength: AEAD_TAG_LEN })
      d.setAAD(h.opcode === Opcode.P_DATA_V2 ? wire.subarray(0, h.headerLen + 4) : body.subarray(0, 4))
      d.setAuthTag(body.subarray(4, 4 + AEAD_TAG_LEN))
      const pt = d.update(body.subarray(4 + AEAD_TAG_LEN))
      try {
        d.final()
      } catch {
        return this.drop('bad_tag')
      }
      plain = new Uint8Array(pt.buffer, pt.byteOffset, pt.byteLength)
    } else {
      if (body.length < this.hmacLen + 16 + 16) return this.drop('short')
      const mac = body.subarray(0, this.hmacLen)
      const ivct = body.subarray(this.hmacLen)
      const want = this.decMac!.digest(ivct)
      if (!timingSafeEqual(want, mac)) return this.drop('bad_hmac')
      const d = createDecipheriv(this.spec.node, this.decKey, ivct.subarray(0, 16))
      let pt: Buffer
      try {
        pt = Buffer.concat([d.update(ivct.subarray(16)), d.final()])
      } catch {
        return this.drop('bad_padding')
      }
      if (pt.length < 4) return this.drop('short')
      pid = readU32(pt, 0)
      plain = new Uint8Array(pt.buffer, pt.byteOffset + 4, pt.byteLength - 4)
    }
    if (!this.replay.check(pid)) return this.drop('replay')
    const un = this.unframe(plain)
    if (!un) return this.drop('compressed')
    this.packets++
    this.bytes += un.length
    return un
  }

  private drop(why: string): null {
    this.counters?.inc(`openvpn.data.${why}`)
    return null
  }
}

/** Key id carried by a data packet's first byte. */
export function dataKeyId(first: number): number {
  return first & 7
}
export { opByte }
