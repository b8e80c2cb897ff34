import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Counters } from '../../../src/core/counters.js'
import { fromHex, hex } from '../../../src/core/bytes.js'
import {
  Opcode,
  encodeControlPacket,
  parseControlPacket,
  parseDataHeader,
  emitDataHeader,
  opByte,
  type ControlPacket,
} from '../../../src/openvpn/tls/packet.js'

const sid = fromHex('0102030405060708')
const rsid = fromHex('a1a2a3a4a5a6a7a8')

describe('control packet codec', () => {
  it('encodes a hard reset byte-exactly (opcode 7, key 0, no acks, pid 0)', () => {
    const p: ControlPacket = { opcode: Opcode.P_CONTROL_HARD_RESET_CLIENT_V2, keyId: 0, sessionId: sid, acks: [], packetId: 0, payload: new Uint8Array() }
    expect(hex(encodeControlPacket(p))).toBe('38' + '0102030405060708' + '00' + '00000000')
  })
  it('encodes a P_ACK_V1 without a message packet-id', () => {
    const p: ControlPacket = { opcode: Opcode.P_ACK_V1, keyId: 2, sessionId: sid, acks: [1, 0x01020304], remoteSessionId: rsid, payload: new Uint8Array() }
    expect(hex(encodeControlPacket(p))).toBe('2a' + '0102030405060708' + '02' + '00000001' + '01020304' + 'a1a2a3a4a5a6a7a8')
  })
  it('round-trips P_CONTROL_V1 with acks and payload', () => {
    const p: ControlPacket = { opcode: Opcode.P_CONTROL_V1, keyId: 7, sessionId: sid, acks: [5], remoteSessionId: rsid, packetId: 9, payload: fromHex('160303') }
    const b = encodeControlPacket(p)
    expect(parseControlPacket(b, 0, b.length)).toEqual(p)
  })
  it('rejects truncated, unknown opcodes, oversize ack arrays and empty ACKs with counters', () => {
    const c = new Counters()
    const ok = encodeControlPacket({ opcode: Opcode.P_CONTROL_V1, keyId: 0, sessionId: sid, acks: [1, 2], remoteSessionId: rsid, packetId: 3, payload: new Uint8Array() })
    for (let n = 0; n < ok.length; n++) expect(parseControlPacket(ok, 0, n, c)).toBeNull()
    expect(c.get('openvpn.tls.bad_packet.short')).toBe(ok.length)
    const bad = ok.slice()
    bad[0] = opByte(Opcode.P_DATA_V2, 0)
    expect(parseControlPacket(bad, 0, bad.length, c)).toBeNull()
    expect(c.get('openvpn.tls.bad_packet.opcode')).toBe(1)
    const many = ok.slice()
    many[9] = 9
    expect(parseControlPacket(many, 0, many.length, c)).toBeNull()
    expect(c.get('openvpn.tls.bad_packet.ack_len')).toBe(1)
    const emptyAck = fromHex('28' + '0102030405060708' + '00')
    expect(parseControlPacket(emptyAck, 0, emptyAck.length, c)).toBeNull()
  })
  it('never throws on random input and round-trips random packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const p = parseControlPacket(b, 0, b.length)
        if (p) expect(encodeControlPacket(p)).toEqual(b)
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(
        fc.constantFrom(3, 4, 5, 7, 8, 10, 11),
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 100 }),
        (op, keyId, acks, pid, payload) => {
          if (op === 5 && acks.length === 0) return
          const p: ControlPacket = {
            opcode: op as Opcode,
            keyId,
            sessionId: sid,
            acks,
            remoteSessionId: acks.length ? rsid : undefined,
            packetId: op === 5 ? undefined : pid,
            payload: op === 5 ? new Uint8Array() : payload,
          }
          const b = encodeControlPacket(p)
          expect(parseControlPacket(b, 0, b.length)).toEqual(p)
        },
      ),
    )
  })
})

describe('data header', () => {
  it('P_DATA_V2 carries a 24-bit peer-id', () => {
    const b = new Uint8Array(8)
    expect(emitDataHeader({ opcode: Opcode.P_DATA_V2, keyId: 1, peerId: 0xabcdef }, b, 0)).toBe(4)
    expect(hex(b.subarray(0, 4))).toBe('49abcdef')
    expect(parseDataHeader(b, 0, 8)).toEqual({ opcode: 9, keyId: 1, peerId: 0xabcdef, headerLen: 4 })
    expect(parseDataHeader(fromHex('31'), 0, 1)).toEqual({ opcode: 6, keyId: 1, headerLen: 1 })
    expect(parseDataHeader(fromHex('49ab'), 0, 2)).toBeNull()
  })
})
