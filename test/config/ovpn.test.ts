import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/core/errors.js'
import { lexOvpn, tokenizeLine } from '../../src/config/ovpn-lexer.js'
import { loadOvpnFile, parseOvpn } from '../../src/config/ovpn.js'
import { formatStaticKeyFile, parseStaticKeyFile } from '../../src/config/static-key-file.js'
import { catchErr } from './catch-config-error.js'

const KEY = new Uint8Array(256).map((_, i) => (i * 7 + 3) & 0xff)
const KEYTEXT = formatStaticKeyFile(KEY)
const dir = mkdtempSync(join(tmpdir(), 'bpo-ovpn-'))
writeFileSync(join(dir, 'static.key'), KEYTEXT)
mkdirSync(join(dir, 'sub dir'))
writeFileSync(join(dir, 'sub dir', 'my key.key'), KEYTEXT)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tok = (s: string) => tokenizeLine(s, 'f.ovpn', 1)
function cfgText(body: string) {
  return parseOvpn(body, { file: join(dir, 'c.ovpn') })
}
const base = 'remote 127.0.0.1 1194\nsecret static.key 1\ncipher AES-256-CBC\n'

describe('tokenizer (OpenVPN parse_line rules)', () => {
  it('splits on whitespace and handles both quote kinds', () => {
    expect(tok('remote  vpn.example.com\t1194 udp')).toEqual(['remote', 'vpn.example.com', '1194', 'udp'])
    expect(tok('ca "my ca.crt"')).toEqual(['ca', 'my ca.crt'])
    expect(tok("ca 'my \\ ca.crt'")).toEqual(['ca', 'my \\ ca.crt'])
    expect(tok('x "a\\"b" c')).toEqual(['x', 'a"b', 'c'])
    expect(tok('x a\\ b')).toEqual(['x', 'a b'])
    expect(tok('x c:\\\\dir')).toEqual(['x', 'c:\\dir'])
    expect(tok('x ""')).toEqual(['x', ''])
  })
  it('treats # and ; as comments only at the start of a token', () => {
    expect(tok('# comment')).toEqual([])
    expect(tok('   ; comment')).toEqual([])
    expect(tok('remote host # trailing')).toEqual(['remote', 'host'])
    expect(tok('remote host;x')).toEqual(['remote', 'host;x'])
    expect(tok('x "a # b"')).toEqual(['x', 'a # b'])
    // OpenVPN escapes only \\, " and whitespace: "\\#" is a bad escape, not a literal #
    expect(() => tok('x \\#y')).toThrow(/bad backslash/)
  })
  it('rejects unterminated quotes and bad escapes with file:line', () => {
    const e = catchErr(() => tokenizeLine('ca "oops', 'a.ovpn', 7))
    expect(e.message).toMatch(/^a\.ovpn:7: ca: no closing double quote/)
    expect(catchErr(() => tok("ca 'oops")).message).toMatch(/single quote/)
    expect(catchErr(() => tok('ca a\\qb')).message).toMatch(/bad backslash/)
  })
  it('reads inline blocks with line numbers and strips a leading --', () => {
    const d = lexOvpn('--dev tun\n<ca>\nLINE1\n  LINE2\n</ca>\nverb 3\n', 'x.ovpn')
    expect(d.map((x) => [x.name, x.line, x.inline])).toEqual([
      ['dev', 1, false],
      ['ca', 2, true],
      ['verb', 6, false],
    ])
    expect(d[1].args[0]).toBe('LINE1\n  LINE2\n')
    expect(catchErr(() => lexOvpn('<key>\nabc\n', 'x.ovpn')).message).toMatch(/x\.ovpn:1: key: .*no closing <\/key>/)
  })
})

describe('tokenizer robustness', () => {
  it('property: any line either tokenizes or fails with a ConfigError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', '"', "'", '\\', '#', ';', '<', '>', '/', '\t', 'x') }), (line) => {
        try {
          const t = tokenizeLine(line, 'p.ovpn', 1)
          for (const x of t) expect(typeof x).toBe('string')
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError)
        }
      }),
    )
  })
})

describe('static key file', () => {
  it('round-trips the OpenVPN format and accepts the real fixture', () => {
    expect(parseStaticKeyFile(KEYTEXT, 'k')).toEqual(KEY)
    const fx = loadOvpnFile(join(import.meta.dirname, '../../fixtures/static-client.ovpn'))
    expect(fx.secret?.key.length).toBe(256)
    expect(fx.secret?.direction).toBe(1)
  })
  it('rejects malformed keys clearly', () => {
    expect(catchErr(() => parseStaticKeyFile('hello', 'k.key')).message).toMatch(/missing "-----BEGIN OpenVPN Static key V1-----"/)
    expect(catchErr(() => parseStaticKeyFile(KEYTEXT.replace('-----END', '-----XND'), 'k.key')).message).toMatch(/truncated/)
    const short = KEYTEXT.split('\n').filter((_, i) => i !== 6).join('\n')
    expect(catchErr(() => parseStaticKeyFile(short, 'k.key')).message).toMatch(/has 1920 bits; expected 2048/)
    const bad = KEYTEXT.split('\n')
    bad[8] = 'zz' + bad[8].slice(2)
    const e = catchErr(() => parseStaticKeyFile(bad.join('\n'), 'k.key'))
    expect(e.line).toBe(9)
    expect(e.message).toMatch(/invalid character "z"/)
  })
})

describe('.ovpn interpretation (static-key mode)', () => {
  it('reads the secret relative to the config folder, with direction', () => {
    const c = cfgText(base)
    expect(c.mode).toBe('static-key')
    expect(c.secret?.key).toEqual(KEY)
    expect(c.secret?.direction).toBe(1)
    expect(c.auth).toBe('SHA1')
    expect(c.cipher).toBe('AES-256-CBC')
    expect(c.remotes).toEqual([{ host: '127.0.0.1', port: 1194, proto: 'udp', family: undefined, file: join(dir, 'c.ovpn'), line: 1 }])
    const q = cfgText('remote h\nsecret "sub dir/my key.key"\ncipher aes-128-cbc\nauth sha512\n')
    expect(q.secret?.direction).toBeUndefined()
    expect(q.cipher).toBe('AES-128-CBC')
    expect(q.auth).toBe('SHA512')
  })
  it('takes an inline <secret> with key-direction', () => {
    const c = cfgText(`remote h\ncipher AES-192-CBC\nkey-direction 0\n<secret>\n${KEYTEXT}</secret>\n`)
    expect(c.secret?.inline).toBe(true)
    expect(c.secret?.direction).toBe(0)
    expect(c.secret?.key).toEqual(KEY)
    const bad = KEYTEXT.replace(/\n([0-9a-f]{2})/, '\nQQ')
    const e = catchErr(() => cfgText(`remote h\ncipher AES-192-CBC\n<secret>\n${bad}</secret>\n`))
    expect(e.file).toBe(join(dir, 'c.ovpn'))
    expect(e.line).toBe(8) // 3 = <secret>, body starts at 4, bad line is the 5th body line
  })
  it('requires a supported cipher with a clear error naming file:line', () => {
    const noCipher = catchErr(() => cfgText('remote h\nsecret static.key\n'))
    expect(noCipher.message).toMatch(/c\.ovpn:2: secret: .*BF-CBC.*OpenSSL 3/)
    expect(catchErr(() => cfgText('remote h\nsecret static.key\ncipher BF-CBC\n')).message).toMatch(/:3: cipher: BF-CBC is not available/)
    expect(catchErr(() => cfgText('remote h\nsecret static.key\ncipher AES-256-GCM\n')).message).toMatch(/AEAD/)
    expect(catchErr(() => cfgText('remote h\nsecret static.key\ncipher none\n')).message).toMatch(/disables encryption/)
    expect(catchErr(() => cfgText(base + 'auth none\n')).message).toMatch(/:4: auth: .*refused/)
    expect(catchErr(() => cfgText(base + 'auth MD5\n')).message).toMatch(/auth MD5 is not supported/)
  })
  it('remotes: defaults, per-remote proto, port, connection blocks, random, retry', () => {
    const c = cfgText(
      base +
        'proto tcp-client\nport 443\nremote b.example 1195 udp\nremote c.example\nremote-random\nconnect-retry 2 30\nconnect-retry-max 3\n' +
        '<connection>\nremote d.example 999\nproto udp6\n</connection>\n',
    )
    expect(c.remotes.map((r) => `${r.proto}${r.family ?? ''} ${r.host}:${r.port}`)).toEqual([
      'tcp 127.0.0.1:1194',
      'udp b.example:1195',
      'tcp c.example:443',
      'udp6 d.example:999',
    ])
    expect(c.remoteRandom).toBe(true)
    expect([c.connectRetry, c.connectRetryMaxDelay, c.connectRetryMax]).toEqual([2, 30, 3])
    expect(catchErr(() => cfgText(base + 'proto tcp-server\n')).message).toMatch(/server protocol/)
    expect(catchErr(() => cfgText('remote h 70000\n')).message).toMatch(/:1: remote: 70000 is out of range/)
  })
  it('ifconfig p2p / subnet, routes, DNS, MTU and keepalive', () => {
    const c = cfgText(
      base +
        'ifconfig 10.8.0.2 10.8.0.1\nroute 10.99.0.0 255.255.255.0\nroute 192.168.7.9\nroute 1.2.3.4 255.255.255.255 net_gateway\n' +
        'route-ipv6 fd00:99::/64\nifconfig-ipv6 fd00:8::2/64 fd00:8::1\ndhcp-option DNS 10.99.0.1\ndhcp-option DOMAIN corp.example\n' +
        'tun-mtu 1400\nkeepalive 10 60\n',
    )
    expect(c.ifconfig).toMatchObject({ local: '10.8.0.2', remote: '10.8.0.1', prefix: 32, topology: 'net30' })
    expect(c.routes).toEqual([
      { address: '10.8.0.1', prefix: 32 },
      { address: 'fd00:99::', prefix: 64 },
      { address: '10.99.0.0', prefix: 24 },
      { address: '192.168.7.9', prefix: 32 },
    ])
    expect(c.ifconfigIpv6).toMatchObject({ address: 'fd00:8::2', prefix: 64, remote: 'fd00:8::1' })
    expect(c.dns).toEqual(['10.99.0.1'])
    expect(c.searchDomains).toEqual(['corp.example'])
    expect([c.tunMtu, c.ping, c.pingRestart]).toEqual([1400, 10, 60])
    expect(c.warnings.some((w) => /:7: route: .*net_gateway/.test(w))).toBe(true)
    const s = cfgText(base + 'topology subnet\nifconfig 10.8.0.2 255.255.255.0\n')
    expect(s.ifconfig).toMatchObject({ local: '10.8.0.2', prefix: 24, topology: 'subnet' })
    expect(s.routes[0]).toEqual({ address: '10.8.0.0', prefix: 24 })
    const h = cfgText(base + 'ifconfig 10.8.0.2 255.255.255.0\n')
    expect(h.ifconfig?.topology).toBe('subnet')
    expect(h.warnings.join('\n')).toMatch(/looks like a netmask/)
    expect(catchErr(() => cfgText(base + 'route 10.0.0.0 255.0.255.0\n')).message).toMatch(/contiguous/)
    expect(catchErr(() => cfgText(base + 'keepalive 10 5\n')).message).toMatch(/keepalive/)
  })
  it('warns on harmless and unknown directives with file:line, rejects unsafe ones', () => {
    const c = cfgText(base + 'persist-key\nverb 4\nuser nobody\nfrobnicate 1\nnobind\n')
    expect(c.warnings).toEqual([
      `${join(dir, 'c.ovpn')}:4: persist-key: ignored (no effect for a userspace client)`,
      `${join(dir, 'c.ovpn')}:5: verb: ignored (no effect for a userspace client)`,
      `${join(dir, 'c.ovpn')}:6: user: ignored (no effect for a userspace client)`,
      `${join(dir, 'c.ovpn')}:7: frobnicate: unknown directive; ignored`,
    ])
    expect(c.nobind).toBe(true)
    expect(catchErr(() => cfgText(base + 'dev tap\n')).message).toMatch(/:4: dev: TAP/)
    expect(catchErr(() => cfgText(base + 'dev-type tap\ndev vpn0\n')).message).toMatch(/:4: dev-type: only "dev tun"/)
    expect(cfgText(base + 'dev-type tun\ndev vpn0\n').warnings).toEqual([])
    expect(catchErr(() => cfgText(base + 'comp-lzo\n')).message).toMatch(/compression/)
    expect(catchErr(() => cfgText(base + 'tls-frobnicate x\n')).message).toMatch(/security-relevant/)
    expect(cfgText(base + 'ignore-unknown-option tls-frobnicate\ntls-frobnicate x\n').warnings).toEqual([])
    expect(catchErr(() => cfgText('remote h\n')).message).toMatch(/unencrypted/)
    expect(catchErr(() => cfgText('remote h\nsecret missing.key\ncipher AES-256-CBC\n')).message).toMatch(/c\.ovpn:2: secret: cannot read .*missing\.key/)
  })
  it('keeps TLS-mode directives and their files for the TLS tunnel', () => {
    writeFileSync(join(dir, 'ca.crt'), 'CA PEM\n')
    const c = cfgText(
      'client\ndev tun\nremote vpn.example 1194\nca ca.crt\n<cert>\nCERT\n</cert>\n<key>\nKEY\n</key>\n<tls-crypt>\nTC\n</tls-crypt>\n' +
        'key-direction 1\n<pkcs12>\nAAEC\nAw==\n</pkcs12>\nremote-cert-tls server\ndata-ciphers AES-256-GCM:CHACHA20-POLY1305\nauth-user-pass\n',
    )
    expect(c.mode).toBe('tls')
    expect(c.tlsFiles.ca).toMatchObject({ inline: false, text: 'CA PEM\n', path: join(dir, 'ca.crt'), line: 4 })
    expect(c.tlsFiles.cert).toMatchObject({ inline: true, text: 'CERT\n', line: 5 })
    expect(c.tlsFiles['tls-crypt'].text).toBe('TC\n')
    expect(c.tlsFiles.pkcs12.bytes).toEqual(new Uint8Array([0, 1, 2, 3]))
    expect(c.keyDirection).toBe(1)
    expect(c.tlsDirectives.map((d) => d.name)).toEqual(['client', 'ca', 'cert', 'key', 'tls-crypt', 'pkcs12', 'remote-cert-tls', 'data-ciphers', 'auth-user-pass'])
    expect(catchErr(() => cfgText(base + 'tls-client\n')).message).toMatch(/cannot be combined/)
  })
})
