// NTLM authentication for an HTTP proxy, as OpenVPN's "http-proxy … ntlm2" (MS-NLMP v2:
// §2.2.1.1 NEGOTIATE_MESSAGE, §2.2.1.2 CHALLENGE_MESSAGE, §2.2.1.3 AUTHENTICATE_MESSAGE,
// §2.2.2.1 AV_PAIR, §3.3.2 NTLM v2 authentication: NTOWFv2, NTProofStr, LMv2). NTLMv1 (DES of the
// MD4 password hash) is deliberately not implemented: it is broken crypto, and OpenVPN 2.6 itself
// marks it deprecated for removal in 2.7. The messages travel base64-encoded in
// Proxy-Authorization / Proxy-Authenticate "NTLM" headers on one kept-alive connection.
import { createHmac, randomBytes } from 'node:crypto'
import { BurrowError, ErrorCode } from '../core/errors.js'
import { md4 } from './md4.js'

const SIGNATURE = Uint8Array.from([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0]) // "NTLMSSP\0"

/** MS-NLMP §2.2.2.5 NEGOTIATE flags used here. */
export const NtlmFlag = {
  NEGOTIATE_UNICODE: 0x00000001,
  NEGOTIATE_OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NEGOTIATE_NTLM: 0x00000200,
  NEGOTIATE_ALWAYS_SIGN: 0x00008000,
  NEGOTIATE_EXTENDED_SESSIONSECURITY: 0x00080000,
  NEGOTIATE_TARGET_INFO: 0x00800000,
} as const
export type NtlmFlag = (typeof NtlmFlag)[keyof typeof NtlmFlag]

/** MS-NLMP §2.2.2.1 AvId values that matter here. */
export const MsvAv = { EOL: 0, NbComputerName: 1, NbDomainName: 2, Timestamp: 7 } as const
export type MsvAv = (typeof MsvAv)[keyof typeof MsvAv]

const NEGOTIATE_FLAGS =
  NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_OEM | NtlmFlag.REQUEST_TARGET | NtlmFlag.NEGOTIATE_NTLM | NtlmFlag.NEGOTIATE_ALWAYS_SIGN | NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY

const u16le = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8)
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff
  b[o + 1] = (v >>> 8) & 0xff
}
function put32(b: Uint8Array, o: number, v: number): void {
  put16(b, o, v & 0xffff)
  put16(b, o + 2, v >>> 16)
}
const utf16le = (s: string) => new Uint8Array(Buffer.from(s, 'utf16le'))
const hmacMd5 = (key: Uint8Array, ...parts: Uint8Array[]) => {
  const h = createHmac('md5', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** "DOMAIN\user" → { domain, user }; a bare name has an empty domain. */
export function splitNtlmUser(username: string): { domain: string; user: string } {
  const i = username.indexOf('\\')
  return i < 0 ? { domain: '', user: username } : { domain: username.slice(0, i), user: username.slice(i + 1) }
}

/** §2.2.1.1 NEGOTIATE_MESSAGE (type 1) with no domain or workstation supplied. */
export function ntlmNegotiate(): Uint8Array {
  const m = new Uint8Array(32)
  m.set(SIGNATURE)
  put32(m, 8, 1)
  put32(m, 12, NEGOTIATE_FLAGS)
  // DomainNameFields and WorkstationFields: length 0, offset at the end of the message
  put32(m, 20, 32)
  put32(m, 28, 32)
  return m
}

export interface NtlmChallenge {
  flags: number
  /** ServerChallenge, 8 bytes. */
  serverChallenge: Uint8Array
  /** TargetInfo (AV_PAIR list as sent), possibly empty. */
  targetInfo: Uint8Array
  /** TargetName decoded (UTF-16LE when NEGOTIATE_UNICODE, else latin1). */
  targetName: string
}

/**
 * §2.2.1.2 CHALLENGE_MESSAGE (type 2). Returns null on anything malformed: wrong signature or
 * type, too short, or a field whose offset/length points outside the message.
 */
export function parseNtlmChallenge(m: Uint8Array): NtlmChallenge | null {
  if (m.length < 32) return null
  for (let i = 0; i < 8; i++) if (m[i] !== SIGNATURE[i]) return null
  if (u32le(m, 8) !== 2) return null
  const field = (o: number): Uint8Array | null => {
    if (o + 8 > m.length) return new Uint8Array(0) // optional trailing field absent (old servers)
    const len = u16le(m, o)
    const off = u32le(m, o + 4)
    if (len === 0) return new Uint8Array(0)
    if (off < 32 || off + len > m.length) return null
    return m.subarray(off, off + len)
  }
  const flags = u32le(m, 20)
  // TargetInfoFields count only with NEGOTIATE_TARGET_INFO (§2.2.1.2); they feed the response, so
  // a bad one rejects the message. TargetName is only informative: a bad one (squid's
  // ntlm_fake_auth sends an uninitialised offset) is ignored.
  const info = flags & NtlmFlag.NEGOTIATE_TARGET_INFO && m.length >= 48 ? field(40) : new Uint8Array(0)
  if (!info || !avPairsWellFormed(info)) return null
  const name = field(12) ?? new Uint8Array(0)
  const targetName = Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString(flags & NtlmFlag.NEGOTIATE_UNICODE ? 'utf16le' : 'latin1')
  return { flags, serverChallenge: m.slice(24, 32), targetInfo: info.slice(), targetName }
}

/** §2.2.2.1: a sequence of (AvId u16, AvLen u16, value) ending with MsvAvEOL, inside the buffer. */
function avPairsWellFormed(info: Uint8Array): boolean {
  if (info.length === 0) return true
  let o = 0
  while (o + 4 <= info.length) {
    const id = u16le(info, o)
    const len = u16le(info, o + 2)
    if (o + 4 + len > info.length) return false
    if (id === MsvAv.EOL) return true
    o += 4 + len
  }
  return false
}

/** The value of one AV pair, or undefined. */
export function avPair(info: Uint8Array, id: MsvAv): Uint8Array | undefined {
  let o = 0
  while (o + 4 <= info.length) {
    const t = u16le(info, o)
    const len = u16le(info, o + 2)
    if (t === MsvAv.EOL || o + 4 + len > info.length) return undefined
    if (t === id) return info.subarray(o + 4, o + 4 + len)
    o += 4 + len
  }
  return undefined
}

/** §3.3.2 NTOWFv2(Passwd, User, UserDom) = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) ‖ UserDom)). */
export function ntowfv2(password: string, user: string, domain: string): Uint8Array {
  return hmacMd5(md4(utf16le(password)), utf16le(user.toUpperCase() + domain))
}

export interface Ntlmv2Responses {
  ntChallengeResponse: Uint8Array
  lmChallengeResponse: Uint8Array
  ntProofStr: Uint8Array
}

/**
 * §3.3.2 ComputeResponse for NTLMv2: `time` is the 8-byte FILETIME (little endian),
 * `targetInfo` the server's AV pairs (ServerName in the spec).
 */
export function ntlmv2Response(responseKeyNT: Uint8Array, serverChallenge: Uint8Array, clientChallenge: Uint8Array, time: Uint8Array, targetInfo: Uint8Array): Ntlmv2Responses {
  // temp = Responserversion(1) ‖ HiResponserversion(1) ‖ Z(6) ‖ Time ‖ ClientChallenge ‖ Z(4) ‖ ServerName ‖ Z(4)
  const temp = concat(Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0]), time, clientChallenge, new Uint8Array(4), targetInfo, new Uint8Array(4))
  const ntProofStr = hmacMd5(responseKeyNT, serverChallenge, temp)
  const lm = concat(hmacMd5(responseKeyNT, serverChallenge, clientChallenge), clientChallenge)
  return { ntChallengeResponse: concat(ntProofStr, temp), lmChallengeResponse: lm, ntProofStr }
}

/** Now as a Windows FILETIME: 100 ns units since 1601-01-01, 8 bytes little endian. */
export function fileTimeNow(nowMs = Date.now()): Uint8Array {
  const t = (BigInt(Math.floor(nowMs)) + 11644473600000n) * 10000n
  const out = new Uint8Array(8)
  for (let i = 0; i < 8; i++) out[i] = Number((t >> BigInt(8 * i)) & 0xffn)
  return out
}

export interface NtlmAuthenticateInput {
  challenge: NtlmChallenge
  username: string
  password: string
  workstation?: string
  /** Test hooks; random and the current time otherwise. */
  clientChallenge?: Uint8Array
  time?: Uint8Array
}

/** §2.2.1.3 AUTHENTICATE_MESSAGE (type 3) carrying NTLMv2 responses; no session key, no MIC. */
export function ntlmAuthenticate(i: NtlmAuthenticateInput): Uint8Array {
  const { domain, user } = splitNtlmUser(i.username)
  const key = ntowfv2(i.password, user, domain)
  // §3.1.5.1.2: use the server's MsvAvTimestamp when it sent one
  const time = i.time ?? avPair(i.challenge.targetInfo, MsvAv.Timestamp)?.slice() ?? fileTimeNow()
  if (time.length !== 8) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'NTLM: the server timestamp is not 8 bytes')
  const cc = i.clientChallenge ?? new Uint8Array(randomBytes(8))
  const r = ntlmv2Response(key, i.challenge.serverChallenge, cc, time, i.challenge.targetInfo)
  const unicode = (i.challenge.flags & NtlmFlag.NEGOTIATE_UNICODE) !== 0
  const str = (s: string) => (unicode ? utf16le(s) : new Uint8Array(Buffer.from(s, 'latin1')))
  const fields = [r.lmChallengeResponse, r.ntChallengeResponse, str(domain), str(user), str(i.workstation ?? ''), new Uint8Array(0)]
  const headerLen = 64
  const total = headerLen + fields.reduce((n, f) => n + f.length, 0)
  if (total > 0xffff) throw new BurrowError(ErrorCode.ERR_PROTOCOL, 'NTLM: the authenticate message would be too long (target information too large)')
  const m = new Uint8Array(total)
  m.set(SIGNATURE)
  put32(m, 8, 3)
  let off = headerLen
  fields.forEach((f, k) => {
    const at = 12 + 8 * k
    put16(m, at, f.length)
    put16(m, at + 2, f.length)
    put32(m, at + 4, off)
    m.set(f, off)
    off += f.length
  })
  const flags = (NEGOTIATE_FLAGS & ~(unicode ? NtlmFlag.NEGOTIATE_OEM : NtlmFlag.NEGOTIATE_UNICODE)) | (i.challenge.flags & NtlmFlag.NEGOTIATE_TARGET_INFO)
  put32(m, 60, flags >>> 0)
  return m
}
