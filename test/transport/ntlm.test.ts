import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { avPair, fileTimeNow, MsvAv, NtlmFlag, ntlmAuthenticate, ntlmNegotiate, ntlmv2Response, ntowfv2, parseNtlmChallenge, splitNtlmUser } from '../../src/transport/ntlm.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const unhex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8)
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0

// MS-NLMP §4.2.1 common values and §4.2.4 NTLMv2 authentication
const SERVER_CHALLENGE = unhex('0123456789abcdef')
const CLIENT_CHALLENGE = unhex('aaaaaaaaaaaaaaaa')
const TIME = new Uint8Array(8)
// AV pairs of §4.2.4.1.3: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL
const TARGET_INFO = unhex('02000c0044006f006d00610069006e0001000c005300650072007600650072000000 0000')

/** A CHALLENGE_MESSAGE built field by field (flags, challenge, target name, target info). */
function challengeMessage(flags: number, targetName: Uint8Array, targetInfo: Uint8Array): Uint8Array {
  const m = new Uint8Array(48 + targetName.length + targetInfo.length)
  m.set(Buffer.from('NTLMSSP\0', 'latin1'))
  m[8] = 2
  m[12] = targetName.length
  m[14] = targetName.length
  m[16] = 48
  m.set([flags & 0xff, (flags >>> 8) & 0xff, (flags >>> 16) & 0xff, flags >>> 24], 20)
  m.set(SERVER_CHALLENGE, 24)
  m[40] = targetInfo.length
  m[42] = targetInfo.length
  m[44] = 48 + targetName.length
  m.set(targetName, 48)
  m.set(targetInfo, 48 + targetName.length)
  return m
}

describe('NTLMv2 (MS-NLMP §4.2.4 vectors)', () => {
  it('NTOWFv2("Password", "User", "Domain")', () => {
    expect(hex(ntowfv2('Password', 'User', 'Domain'))).toBe('0c868a403bfd7a93a3001ef22ef02e3f')
  })

  it('NTProofStr and LMv2 response', () => {
    const r = ntlmv2Response(ntowfv2('Password', 'User', 'Domain'), SERVER_CHALLENGE, CLIENT_CHALLENGE, TIME, TARGET_INFO)
    expect(hex(r.ntProofStr)).toBe('68cd0ab851e51c96aabc927bebef6a1c')
    expect(hex(r.lmChallengeResponse)).toBe('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa')
    // NtChallengeResponse = NTProofStr ‖ temp, temp = 0101 000000000000 ‖ time ‖ cc ‖ 0(4) ‖ info ‖ 0(4)
    expect(hex(r.ntChallengeResponse)).toBe('68cd0ab851e51c96aabc927bebef6a1c' + '0101000000000000' + '0000000000000000' + 'aaaaaaaaaaaaaaaa' + '00000000' + hex(TARGET_INFO) + '00000000')
  })

  it('the AUTHENTICATE_MESSAGE carries the vector responses, domain and user in UTF-16LE', () => {
    const ch = parseNtlmChallenge(challengeMessage(NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_TARGET_INFO, Buffer.from('Server', 'utf16le'), TARGET_INFO))
    expect(ch).not.toBeNull()
    expect(ch!.targetName).toBe('Server')
    const m = ntlmAuthenticate({ challenge: ch!, username: 'Domain\\User', password: 'Password', clientChallenge: CLIENT_CHALLENGE, time: TIME })
    expect(Buffer.from(m.subarray(0, 8)).toString('latin1')).toBe('NTLMSSP\0')
    expect(u32(m, 8)).toBe(3)
    const field = (k: number) => m.subarray(u32(m, 12 + 8 * k + 4), u32(m, 12 + 8 * k + 4) + u16(m, 12 + 8 * k))
    expect(hex(field(0))).toBe('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa')
    expect(hex(field(1).subarray(0, 16))).toBe('68cd0ab851e51c96aabc927bebef6a1c')
    expect(Buffer.from(field(2)).toString('utf16le')).toBe('Domain')
    expect(Buffer.from(field(3)).toString('utf16le')).toBe('User')
    expect(u32(m, 60) & NtlmFlag.NEGOTIATE_UNICODE).toBeTruthy()
  })

  it('uses the server MsvAvTimestamp when present, else the clock', () => {
    const ts = unhex('0102030405060708')
    const info = unhex('07000800' + '0102030405060708' + '00000000')
    expect(hex(avPair(info, MsvAv.Timestamp)!)).toBe(hex(ts))
    const ch = parseNtlmChallenge(challengeMessage(NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_TARGET_INFO, new Uint8Array(0), info))!
    const m = ntlmAuthenticate({ challenge: ch, username: 'u', password: 'p', clientChallenge: CLIENT_CHALLENGE })
    const ntOff = u32(m, 24)
    expect(hex(m.subarray(ntOff + 24, ntOff + 32))).toBe(hex(ts))
    // FILETIME of the Unix epoch is 116444736000000000 = 0x019db1ded53e8000
    expect(hex(fileTimeNow(0))).toBe('00803ed5deb19d01')
  })
})

describe('NTLM messages', () => {
  it('NEGOTIATE_MESSAGE: signature, type 1, NTLM + Unicode + extended session security', () => {
    const m = ntlmNegotiate()
    expect(Buffer.from(m.subarray(0, 8)).toString('latin1')).toBe('NTLMSSP\0')
    expect(u32(m, 8)).toBe(1)
    const flags = u32(m, 12)
    for (const f of [NtlmFlag.NEGOTIATE_NTLM, NtlmFlag.NEGOTIATE_UNICODE, NtlmFlag.NEGOTIATE_EXTENDED_SESSIONSECURITY, NtlmFlag.REQUEST_TARGET]) expect(flags & f).toBe(f)
  })

  it('splits DOMAIN\\user', () => {
    expect(splitNtlmUser('CORP\\alice')).toEqual({ domain: 'CORP', user: 'alice' })
    expect(splitNtlmUser('alice')).toEqual({ domain: '', user: 'alice' })
  })

  it('CHALLENGE_MESSAGE parsing rejects bad signature, type, truncation and hostile offsets', () => {
    const good = challengeMessage(NtlmFlag.NEGOTIATE_UNICODE | NtlmFlag.NEGOTIATE_TARGET_INFO, Buffer.from('S', 'utf16le'), TARGET_INFO)
    expect(parseNtlmChallenge(good)?.serverChallenge).toEqual(SERVER_CHALLENGE)
    const bad = (f: (m: Uint8Array) => void) => {
      const m = good.slice()
      f(m)
      return parseNtlmChallenge(m)
    }
    expect(bad((m) => (m[0] = 0x41))).toBeNull()
    expect(bad((m) => (m[8] = 3))).toBeNull()
    expect(bad((m) => (m[44] = 0xff))).toBeNull() // target info offset past the end
    expect(bad((m) => (m[41] = 0xff))).toBeNull() // target info length past the end
    // a bad target name is only informative: ignored
    expect(bad((m) => (m[16] = 4))?.targetName).toBe('')
    // without NEGOTIATE_TARGET_INFO the target info fields are not read at all
    expect(bad((m) => ((m[44] = 0xff), (m[22] = 0)))?.targetInfo.length).toBe(0)
    expect(bad((m) => (m[48 + 2 + 2] = 0xff))).toBeNull() // AV pair length past the end
    expect(parseNtlmChallenge(good.subarray(0, 31))).toBeNull()
    expect(parseNtlmChallenge(good.subarray(0, good.length - 1))).toBeNull()
  })

  it("squid's ntlm_fake_auth challenge (uninitialised target name offset, no target info) is accepted", () => {
    const m = unhex('4e544c4d535350000200000009000900aeaaaaaa078208005b5c0d0bbe1598b20000000000003a00574f524b47524f5550')
    const ch = parseNtlmChallenge(m)
    expect(ch).not.toBeNull()
    expect(hex(ch!.serverChallenge)).toBe('5b5c0d0bbe1598b2')
    expect(ch!.targetInfo.length).toBe(0)
    expect(ch!.targetName).toBe('')
  })

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (tail, sig) => {
        const m = new Uint8Array(tail.length + 12)
        if (sig) m.set(Buffer.from('NTLMSSP\0\x02\0\0\0', 'latin1'))
        m.set(tail, 12)
        const r = parseNtlmChallenge(m)
        if (r) expect(r.serverChallenge.length).toBe(8)
      }),
    )
  })
})
