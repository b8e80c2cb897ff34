import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { digestAuthorization, parseChallenges, pickDigest } from '../../src/transport/proxy-auth.js'

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5
const RFC7616 = {
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
}
const HEADER = `Digest realm="${RFC7616.realm}", qop="auth, auth-int", algorithm=SHA-256, nonce="${RFC7616.nonce}", opaque="${RFC7616.opaque}"`
const HEADER_MD5 = `Digest realm="${RFC7616.realm}", qop="auth, auth-int", algorithm=MD5, nonce="${RFC7616.nonce}", opaque="${RFC7616.opaque}"`

describe('Digest (RFC 7616 §3.9.1 example)', () => {
  it.each([
    [HEADER, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    [HEADER_MD5, '8ca523f5e9506fed4657c9700eebdbec'],
  ])('%s', (header, want) => {
    const [c] = parseChallenges([header])
    const r = digestAuthorization({ challenge: c, username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', cnonce: RFC7616.cnonce })
    expect(r.response).toBe(want)
    expect(r.header).toContain(`response="${want}"`)
    expect(r.header).toContain('qop=auth, nc=00000001')
    expect(r.header).toContain(`opaque="${RFC7616.opaque}"`)
    expect(r.header).toContain(`cnonce="${RFC7616.cnonce}"`)
    expect(r.header).toMatch(/^Digest username="Mufasa", realm="http-auth@example.org"/)
  })

  it('RFC 2069 form without qop, and the -sess variants', () => {
    const md5 = (s: string) => createHash('md5').update(s).digest('hex')
    const [c] = parseChallenges(['Digest realm="r", nonce="n"'])
    const r = digestAuthorization({ challenge: c, username: 'u', password: 'p', method: 'CONNECT', uri: 'vpn:443' })
    expect(r.response).toBe(md5(`${md5('u:r:p')}:n:${md5('CONNECT:vpn:443')}`))
    expect(r.header).not.toContain('qop=')
    const [s] = parseChallenges(['Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess'])
    const rs = digestAuthorization({ challenge: s, username: 'u', password: 'p', method: 'CONNECT', uri: 'vpn:443', cnonce: 'c' })
    const ha1 = md5(`${md5('u:r:p')}:n:c`)
    expect(rs.response).toBe(md5(`${ha1}:n:00000001:c:auth:${md5('CONNECT:vpn:443')}`))
    expect(rs.header).toContain('algorithm=MD5-sess')
  })

  it('userhash=true sends H(user:realm) as the username (RFC 7616 §3.4.4)', () => {
    const [c] = parseChallenges(['Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256, userhash=true'])
    const r = digestAuthorization({ challenge: c, username: 'u', password: 'p', method: 'CONNECT', uri: 'h:1', cnonce: 'c' })
    expect(r.header).toContain(`username="${createHash('sha256').update('u:r').digest('hex')}"`)
    expect(r.header).toContain('userhash=true')
  })

  it('escapes quotes and backslashes; refuses control characters (no header injection)', () => {
    const [c] = parseChallenges(['Digest realm="r", nonce="n"'])
    expect(digestAuthorization({ challenge: c, username: 'a"b\\c', password: 'p', method: 'CONNECT', uri: 'h:1' }).header).toContain('username="a\\"b\\\\c"')
    expect(() => digestAuthorization({ challenge: c, username: 'u\r\nX-Evil: 1', password: 'p', method: 'CONNECT', uri: 'h:1' })).toThrow(/control characters/)
  })

  it('random cnonce differs per answer', () => {
    const [c] = parseChallenges(['Digest realm="r", nonce="n", qop=auth'])
    const a = digestAuthorization({ challenge: c, username: 'u', password: 'p', method: 'CONNECT', uri: 'h:1' })
    const b = digestAuthorization({ challenge: c, username: 'u', password: 'p', method: 'CONNECT', uri: 'h:1' })
    expect(a.response).not.toBe(b.response)
  })
})

describe('challenge parsing (RFC 9110 §11.6.1)', () => {
  it('several challenges in one header, quoted strings with escapes and commas', () => {
    const cs = parseChallenges(['Basic realm="a \\"quoted\\" realm, with comma", Digest realm="d", nonce="x,y", qop="auth,auth-int", stale=TRUE, NTLM'])
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'digest', 'ntlm'])
    expect(cs[0].params.realm).toBe('a "quoted" realm, with comma')
    expect(cs[1].params).toEqual({ realm: 'd', nonce: 'x,y', qop: 'auth,auth-int', stale: 'TRUE' })
  })

  it('several headers, token68 (NTLM challenge with padding), case-insensitive names', () => {
    const cs = parseChallenges(['NTLM TlRMTVNTUAACAAAA==', 'DIGEST REALM=r, Nonce="n"', 'Negotiate'])
    expect(cs[0]).toEqual({ scheme: 'ntlm', params: {}, token68: 'TlRMTVNTUAACAAAA==' })
    expect(cs[1].params).toEqual({ realm: 'r', nonce: 'n' })
    expect(cs[2].scheme).toBe('negotiate')
  })

  it('prefers SHA-256 and skips unusable Digest challenges', () => {
    const cs = parseChallenges(['Digest realm="r", nonce="1", algorithm=MD5, qop="auth"', 'Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth"', 'Digest realm="r", nonce="3", algorithm=SHA-512-256'])
    expect(pickDigest(cs)?.params.nonce).toBe('2')
    expect(pickDigest(parseChallenges(['Digest realm="r", nonce="1", qop="auth-int"']))).toBeUndefined()
    expect(pickDigest(parseChallenges(['Digest realm="r"']))).toBeUndefined()
  })

  it('unterminated quotes and garbage stop parsing without throwing (property)', () => {
    expect(parseChallenges(['Digest realm="open']).length).toBe(1)
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => void parseChallenges([s])))
  })
})
