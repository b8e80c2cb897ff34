import { describe, expect, it } from 'vitest'
import { createSocket } from 'node:dgram'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHmac, randomBytes } from 'node:crypto'
import { Counters } from '../../../src/core/counters.js'
import { hex, readU32 } from '../../../src/core/bytes.js'
import { run, binarySkipReason } from '../../harness/netns.js'
import { NoWrap, TlsAuthWrap, TlsCryptWrap, parseStaticKeyV1, parseTlsCryptV2ClientKey, type ControlWrap } from '../../../src/openvpn/tls/wrap.js'
import { Opcode, encodeControlPacket, parseControlPacket } from '../../../src/openvpn/tls/packet.js'
import { ReplayWindow } from '../../../src/openvpn/tls/replay.js'

const key = new Uint8Array(256).map((_, i) => (i * 7 + 3) & 0xff)
const sid = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])
const plain = encodeControlPacket({ opcode: Opcode.P_CONTROL_V1, keyId: 0, sessionId: sid, acks: [0], remoteSessionId: sid, packetId: 1, payload: Uint8Array.from([0x16, 3, 3, 0, 1, 9]) })

function roundTrip(client: ControlWrap, server: ControlWrap): void {
  const w = client.wrap(plain)
  expect(w.length).toBe(plain.length + client.overhead)
  expect(server.unwrap(w)).toEqual(plain)
  // replayed packet is refused
  expect(server.unwrap(w)).toBeNull()
  // any flipped bit is refused
  for (let i = 0; i < w.length; i += 3) {
    const bad = client.wrap(plain)
    bad[i] ^= 0x40
    expect(server.unwrap(bad)).toBeNull()
  }
  // the other direction
  expect(client.unwrap(server.wrap(plain))).toEqual(plain)
}

describe('tls-auth', () => {
  it('round-trips client (key-direction 1) ↔ server (0) for SHA1/SHA256/SHA512, refusing tampering and replays', () => {
    for (const d of ['SHA1', 'SHA256', 'SHA512']) roundTrip(new TlsAuthWrap(key, 1, d), new TlsAuthWrap(key, 0, d))
    roundTrip(new TlsAuthWrap(key, undefined), new TlsAuthWrap(key, undefined))
  })
  it('lays out op|sid|HMAC|pid|time|rest with the HMAC over pid|time|op|sid|rest (independent recomputation)', () => {
    const w = new TlsAuthWrap(key, 1, 'SHA256', { nowSeconds: () => 0x01020304 }).wrap(plain)
    expect(hex(w.subarray(0, 9))).toBe(hex(plain.subarray(0, 9)))
    expect(hex(w.subarray(41, 49))).toBe('00000001' + '01020304')
    const sendKey = key.slice(128 + 64, 128 + 64 + 32) // key-direction 1 sends with key #1's HMAC slot
    const mac = createHmac('sha256', sendKey).update(w.subarray(41, 49)).update(plain).digest()
    expect(hex(w.subarray(9, 41))).toBe(hex(mac))
  })
  it('refuses a packet signed with the wrong direction', () => {
    const c = new Counters()
    expect(new TlsAuthWrap(key, 1, 'SHA1', { counters: c }).unwrap(new TlsAuthWrap(key, 1).wrap(plain))).toBeNull()
    expect(c.get('openvpn.tls_auth.bad_hmac')).toBe(1)
  })
})

describe('tls-crypt', () => {
  it('round-trips client ↔ server, refusing tampering and replays', () => {
    roundTrip(new TlsCryptWrap(key, false), new TlsCryptWrap(key, true))
  })
  it('appends WKc only to HARD_RESET_CLIENT_V3 and WKC_V1 in v2 mode', () => {
    const wkc = randomBytes(100)
    const w = new TlsCryptWrap(key, false, { wkc })
    const v3 = encodeControlPacket({ opcode: Opcode.P_CONTROL_HARD_RESET_CLIENT_V3, keyId: 0, sessionId: sid, acks: [], packetId: 0, payload: new Uint8Array() })
    const out = w.wrap(v3)
    expect(out.length).toBe(v3.length + w.overhead + 100)
    expect(hex(out.subarray(out.length - 100))).toBe(hex(wkc))
    const srv = new TlsCryptWrap(key, true)
    expect(srv.unwrap(out.subarray(0, out.length - 100))).toEqual(v3)
    expect(w.wrap(plain).length).toBe(plain.length + w.overhead)
    // v2 announces early negotiation through its first wrap packet-id (EARLY_NEG_START + n)
    expect(readU32(out, 9)).toBe(0x0f000000)
  })
  it('parses key files', () => {
    const txt = '#\n-----BEGIN OpenVPN Static key V1-----\n' + hex(key).replace(/(.{32})/g, '$1\n') + '-----END OpenVPN Static key V1-----\n'
    expect(parseStaticKeyV1(txt)).toEqual(key)
    expect(() => parseStaticKeyV1('-----BEGIN OpenVPN Static key V1-----\nabcd\n-----END OpenVPN Static key V1-----')).toThrow(/2048/)
    const v2 = Buffer.concat([Buffer.from(key), randomBytes(300)]).toString('base64')
    const k2 = parseTlsCryptV2ClientKey(`-----BEGIN OpenVPN tls-crypt-v2 client key-----\n${v2}\n-----END OpenVPN tls-crypt-v2 client key-----`)
    expect(k2.key).toEqual(key)
    expect(k2.wkc.length).toBe(300)
  })
})

describe('replay window', () => {
  it('accepts fresh ids once, within the window, and restarts on a newer time', () => {
    const r = new ReplayWindow(8)
    expect(r.check(0, 5)).toBe(false)
    expect(r.check(3, 5)).toBe(true)
    expect(r.check(3, 5)).toBe(false)
    expect(r.check(1, 5)).toBe(true)
    expect(r.check(20, 5)).toBe(true)
    expect(r.check(12, 5)).toBe(false) // 20-12 = 8, outside the 8-wide window
    expect(r.check(13, 5)).toBe(true)
    expect(r.check(1, 6)).toBe(true)
    expect(r.check(50, 4)).toBe(false)
  })
})

// Real vectors: capture the first packet a real `openvpn` client sends (to our loopback UDP
// socket) and unwrap it with the server-side key direction.
const noVectorTools = binarySkipReason('wrap.test.ts (real openvpn client vectors)', ['openvpn', 'openssl']) !== null
describe.skipIf(noVectorTools)('wrap vectors from a real openvpn 2.6 client', () => {
  async function capture(extra: (dir: string) => string[]): Promise<{ pkt: Uint8Array; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'bpt-wrap-'))
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=ca', '-days', '2'])
    run('openvpn', ['--genkey', 'secret', join(dir, 'ta.key')])
    writeFileSync(join(dir, 'up.txt'), 'u\np\n')
    const sock = createSocket('udp4')
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
    const port = sock.address().port
    const got = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)))
    const child = spawn('openvpn', ['--client', '--dev', 'null', '--proto', 'udp', '--remote', '127.0.0.1', String(port), '--nobind', '--ca', join(dir, 'ca.crt'), '--auth-user-pass', join(dir, 'up.txt'), '--verb', '0', ...extra(dir)], { stdio: 'ignore' })
    try {
      const m = await Promise.race([got, new Promise<never>((_, j) => setTimeout(() => j(new Error('no packet from openvpn')), 10_000))])
      return { pkt: new Uint8Array(m), dir }
    } finally {
      child.kill('SIGKILL')
      sock.close()
    }
  }
  it('tls-crypt: the client HARD_RESET_CLIENT_V2 unwraps with server direction', async () => {
    const { pkt, dir } = await capture((d) => ['--tls-crypt', join(d, 'ta.key')])
    const k = parseStaticKeyV1(readFileSync(join(dir, 'ta.key'), 'utf8'))
    rmSync(dir, { recursive: true })
    const c = new Counters()
    expect(new TlsCryptWrap(k, false, { counters: c }).unwrap(pkt)).toBeNull() // wrong direction
    const p = new TlsCryptWrap(k, true).unwrap(pkt)
    expect(p).not.toBeNull()
    const cp = parseControlPacket(p!, 0, p!.length)
    expect(cp?.opcode).toBe(Opcode.P_CONTROL_HARD_RESET_CLIENT_V2)
    expect(cp?.packetId).toBe(0)
    expect(readU32(pkt, 9)).toBe(1) // first wrap packet-id is 1
  })
  for (const [auth, extra] of [['SHA1', []], ['SHA256', ['--auth', 'SHA256']]] as const) {
    it(`tls-auth ${auth} key-direction 1: the client hard reset verifies with direction 0`, async () => {
      const { pkt, dir } = await capture((d) => ['--tls-auth', join(d, 'ta.key'), '1', ...extra])
      const k = parseStaticKeyV1(readFileSync(join(dir, 'ta.key'), 'utf8'))
      rmSync(dir, { recursive: true })
      expect(new TlsAuthWrap(k, 1, auth).unwrap(pkt)).toBeNull()
      const p = new TlsAuthWrap(k, 0, auth).unwrap(pkt)
      expect(p).not.toBeNull()
      expect(parseControlPacket(p!, 0, p!.length)?.opcode).toBe(Opcode.P_CONTROL_HARD_RESET_CLIENT_V2)
    })
  }
  it('no wrap passes through', () => {
    expect(new NoWrap().unwrap(plain)).toBe(plain)
  })
})
