import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parsePushReply, emptyPushed, maskToPrefixLen } from '../../../src/openvpn/tls/push.js'
import { authFailedError, MessageSplitter, encodeKm2Client, parseKm2Server, peerInfo, IV_PROTO_TLS_KEY_EXPORT, randomClientKeySource } from '../../../src/openvpn/tls/control.js'

const REAL =
  'route 10.99.0.0 255.255.255.0,dhcp-option DNS 10.99.0.1,route-gateway 10.8.3.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.3.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,protocol-flags cc-exit tls-ekm dyn-tls-crypt,tun-mtu 1500'

describe('PUSH_REPLY', () => {
  it('parses a real OpenVPN 2.6 reply', () => {
    const { opts, done } = parsePushReply(REAL)
    expect(done).toBe(true)
    expect(opts).toMatchObject({
      routes: [{ address: '10.99.0.0', prefix: 24 }],
      dns: ['10.99.0.1'],
      routeGateway: '10.8.3.1',
      topology: 'subnet',
      ping: 10,
      pingRestart: 60,
      ifconfig: { local: '10.8.3.2', second: '255.255.255.0' },
      peerId: 0,
      cipher: 'AES-256-GCM',
      protocolFlags: ['cc-exit', 'tls-ekm', 'dyn-tls-crypt'],
      tunMtu: 1500,
      rejected: [],
    })
  })
  it('merges push-continuation parts', () => {
    const a = parsePushReply('route 10.1.0.0 255.255.0.0,push-continuation 2')
    expect(a.done).toBe(false)
    const b = parsePushReply('route-ipv6 fd00::/64,ifconfig-ipv6 fd00::2/64 fd00::1,dhcp-option DOMAIN corp.example,redirect-gateway def1 ipv6,auth-token SESS_abc,push-continuation 1', a.opts)
    expect(b.done).toBe(true)
    expect(b.opts.routes).toEqual([{ address: '10.1.0.0', prefix: 16 }])
    expect(b.opts.routesIpv6).toEqual([{ address: 'fd00::', prefix: 64 }])
    expect(b.opts.ifconfigIpv6).toEqual({ address: 'fd00::2', prefix: 64, remote: 'fd00::1' })
    expect(b.opts.searchDomains).toEqual(['corp.example'])
    expect(b.opts.redirectGateway).toEqual({ v4: true, v6: true })
    expect(b.opts.authToken).toBe('SESS_abc')
  })
  it('rejects (never applies) hostile or malformed values', () => {
    const { opts } = parsePushReply(
      'route 10.0.0.300 255.0.0.0,route 10.0.0.0 255.0.255.0,route evil.example,route 1.2.3.0 255.255.255.0 `rm`,dhcp-option DNS 1.2.3,dhcp-option DNS ;reboot,dhcp-option DOMAIN a..b,ifconfig 10.0.0.1,route-ipv6 fd00::/129,peer-id 99999999,ping -1,tun-mtu 10,topology weird',
    )
    expect(opts.routes).toEqual([])
    expect(opts.routesIpv6).toEqual([])
    expect(opts.dns).toEqual([])
    expect(opts.searchDomains).toEqual([])
    expect(opts.ifconfig).toBeUndefined()
    expect(opts.peerId).toBeUndefined()
    expect(opts.ping).toBeUndefined()
    expect(opts.tunMtu).toBeUndefined()
    expect(opts.topology).toBeUndefined()
    expect(opts.rejected).toHaveLength(13)
  })
  it('netmask → prefix', () => {
    expect(maskToPrefixLen('255.255.255.252')).toBe(30)
    expect(maskToPrefixLen('0.0.0.0')).toBe(0)
    expect(maskToPrefixLen('255.0.255.0')).toBeNull()
  })
  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parsePushReply(s, emptyPushed())))
  })
})

describe('key-method 2 and control messages', () => {
  it('encodes the client message with its fixed layout', () => {
    const ks = randomClientKeySource()
    const m = encodeKm2Client({ keySource: ks, options: 'V4', username: 'u', password: 'pw', peerInfo: 'IV_VER=x\n' })
    expect([...m.subarray(0, 5)]).toEqual([0, 0, 0, 0, 2])
    expect(m.subarray(5, 53)).toEqual(ks.preMaster)
    // options "V4\0" then "u\0" then "pw\0" then peer info
    expect([...m.subarray(117, 122)]).toEqual([0, 3, 0x56, 0x34, 0])
    expect([...m.subarray(122, 126)]).toEqual([0, 2, 0x75, 0])
    expect([...m.subarray(126, 131)]).toEqual([0, 3, 0x70, 0x77, 0])
    const noAuth = encodeKm2Client({ keySource: ks, options: 'V4', peerInfo: '' })
    expect([...noAuth.subarray(122, 126)]).toEqual([0, 0, 0, 0])
  })
  it('parses the server message, incomplete and malformed forms', () => {
    const srv = new Uint8Array([0, 0, 0, 0, 2, ...new Uint8Array(64).fill(7), 0, 3, 0x56, 0x34, 0, 0, 0, 0, 0, 0, 2, 0x41, 0])
    const p = parseKm2Server(srv)
    expect(p).toMatchObject({ options: 'V4', peerInfo: 'A', length: srv.length })
    expect(parseKm2Server(srv.subarray(0, 80))).toBe('incomplete')
    const bad = srv.slice()
    bad[4] = 1
    expect(parseKm2Server(bad)).toBeNull()
  })
  it('peer-info announces IV_PROTO bits and ciphers', () => {
    const s = peerInfo({ ciphers: ['AES-256-GCM', 'CHACHA20-POLY1305'] })
    expect(s).toContain('IV_CIPHERS=AES-256-GCM:CHACHA20-POLY1305\n')
    expect(s).toContain('IV_PROTO=398\n') // DATA_V2|REQUEST_PUSH|TLS_KEY_EXPORT|CC_EXIT_NOTIFY|AUTH_FAIL_TEMP
    expect(peerInfo({ ciphers: [], tlsKeyExport: false })).toContain(`IV_PROTO=${398 & ~IV_PROTO_TLS_KEY_EXPORT}\n`)
  })
  it('AUTH_FAILED variants become ERR_AUTH with the server reason', () => {
    expect(authFailedError('AUTH_FAILED')).toMatchObject({ code: 'ERR_AUTH', message: expect.stringMatching(/rejected authentication \(AUTH_FAILED\); check/) })
    expect(authFailedError('AUTH_FAILED,account locked').message).toMatch(/\(AUTH_FAILED\): account locked$/)
    expect(authFailedError('AUTH_FAILED,TEMP[backoff 30],try later').message).toMatch(/temporary .*AUTH_FAILED,TEMP\): try later$/)
    expect(authFailedError('AUTH_FAILED,TEMP').code).toBe('ERR_AUTH')
  })
  it('splits NUL-terminated messages across chunks', () => {
    const got: string[] = []
    const s = new MessageSplitter((m) => got.push(m))
    s.push(new TextEncoder().encode('PUSH_REP'))
    s.push(new TextEncoder().encode('LY,a\0AUTH_FAILED\0'))
    expect(got).toEqual(['PUSH_REPLY,a', 'AUTH_FAILED'])
  })
})
