import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../../src/core/clock.js'
import { Counters } from '../../../src/core/counters.js'
import { silentLogger } from '../../../src/core/log.js'
import { TlsSession, earlyNegResendWkc } from '../../../src/openvpn/tls/session.js'
import { NoWrap } from '../../../src/openvpn/tls/wrap.js'
import { Opcode, encodeControlPacket, parseControlPacket, type ControlPacket } from '../../../src/openvpn/tls/packet.js'

const S = Uint8Array.from([9, 9, 9, 9, 1, 2, 3, 4])

function setup() {
  const clock = new FakeClock()
  const counters = new Counters()
  const sent: ControlPacket[] = []
  const s = new TlsSession({
    clock,
    logger: silentLogger,
    counters,
    wrap: new NoWrap(),
    creds: {},
    send: (b) => sent.push(parseControlPacket(b, 0, b.length)!),
    km2: () => ({ options: 'V4', peerInfo: '' }),
    onMessage: () => {},
    onKeyReady: () => {},
    onError: () => {},
  })
  const feed = (p: Partial<ControlPacket> & { opcode: Opcode }) => s.input(encodeControlPacket({ keyId: 0, sessionId: S, acks: [], payload: new Uint8Array(), ...p }))
  return { clock, counters, sent, s, feed }
}

describe('TLS session (control channel state machine)', () => {
  it('hard reset → server reset → ClientHello with the reset acknowledged; retransmits unacknowledged records', () => {
    const { clock, sent, s, feed } = setup()
    s.start()
    expect(sent[0]).toMatchObject({ opcode: Opcode.P_CONTROL_HARD_RESET_CLIENT_V2, keyId: 0, packetId: 0, acks: [] })
    feed({ opcode: Opcode.P_CONTROL_HARD_RESET_SERVER_V2, packetId: 0, acks: [0], remoteSessionId: s.localSid })
    expect(s.remoteSid).toEqual(S)
    const hello = sent.find((p) => p.opcode === Opcode.P_CONTROL_V1)!
    expect(hello).toMatchObject({ packetId: 1, acks: [0], remoteSessionId: S })
    expect(hello.payload[0]).toBe(0x16) // TLS handshake record
    const n = sent.length
    clock.advance(2000)
    expect(sent.slice(n).some((p) => p.opcode === Opcode.P_CONTROL_V1 && p.packetId === 1)).toBe(true)
    s.close()
  })
  it('drops packets from another session or acknowledging another session', () => {
    const { counters, s, feed } = setup()
    s.start()
    feed({ opcode: Opcode.P_CONTROL_HARD_RESET_SERVER_V2, packetId: 0, acks: [0], remoteSessionId: s.localSid })
    feed({ opcode: Opcode.P_CONTROL_V1, packetId: 1, sessionId: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1]) })
    expect(counters.get('openvpn.tls.wrong_session')).toBe(1)
    feed({ opcode: Opcode.P_ACK_V1, acks: [1], remoteSessionId: Uint8Array.from([7, 7, 7, 7, 7, 7, 7, 7]) })
    expect(counters.get('openvpn.tls.wrong_remote_session')).toBe(1)
    feed({ opcode: Opcode.P_CONTROL_V1, keyId: 3, packetId: 0 })
    expect(counters.get('openvpn.tls.unknown_key_id')).toBe(1)
    s.close()
  })
  it('answers a server SOFT_RESET on a new key_id with its own SOFT_RESET and a new TLS handshake', () => {
    const { clock, sent, s, feed } = setup()
    s.start()
    feed({ opcode: Opcode.P_CONTROL_HARD_RESET_SERVER_V2, packetId: 0, acks: [0], remoteSessionId: s.localSid })
    const n = sent.length
    feed({ opcode: Opcode.P_CONTROL_SOFT_RESET_V1, keyId: 1, packetId: 0 })
    clock.advance(1)
    const k1 = sent.slice(n).filter((p) => p.keyId === 1)
    expect(k1[0]).toMatchObject({ opcode: Opcode.P_CONTROL_SOFT_RESET_V1, packetId: 0 })
    expect(k1.some((p) => p.opcode === Opcode.P_CONTROL_V1 && p.packetId === 1 && p.payload[0] === 0x16)).toBe(true)
    expect(k1.flatMap((p) => p.acks)).toContain(0)
    // our own renegotiation uses the next key_id
    const ks = s.renegotiate()
    expect(ks.keyId).toBe(2)
    expect(sent.at(-1)).toMatchObject({ opcode: Opcode.P_CONTROL_SOFT_RESET_V1, keyId: 2, packetId: 0 })
    s.close()
  })
})

describe('early negotiation TLVs', () => {
  it('finds EARLY_NEG_FLAG_RESEND_WKC and skips unknown TLVs; malformed → false', () => {
    expect(earlyNegResendWkc(Uint8Array.from([0, 1, 0, 2, 0, 1]))).toBe(true)
    expect(earlyNegResendWkc(Uint8Array.from([0, 9, 0, 1, 7, 0, 1, 0, 2, 0, 1]))).toBe(true)
    expect(earlyNegResendWkc(Uint8Array.from([0, 1, 0, 2, 0, 0]))).toBe(false)
    expect(earlyNegResendWkc(Uint8Array.from([0, 1, 0, 9, 0]))).toBe(false)
    expect(earlyNegResendWkc(new Uint8Array())).toBe(false)
  })
})
