// http-proxy / http-proxy-option / http-proxy-user-pass / socks-proxy in .ovpn files, their errors
// (file:line), and how they reach the tunnel settings together with typed-in secrets.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseOvpn } from '../../src/config/ovpn.js'
import { tlsSettingsFromOvpn } from '../../src/openvpn/tls/options.js'
import { staticParamsFromConfig } from '../../src/openvpn/tunnel.js'
import { askSecrets, missingSecrets, type PromptRequest } from '../../src/openvpn/credentials.js'
import { formatStaticKeyFile } from '../../src/config/static-key-file.js'
import { catchErr } from './catch-config-error.js'

const dir = mkdtempSync(join(tmpdir(), 'bxp-proxycfg-'))
writeFileSync(join(dir, 'proxy.auth'), 'puser\np ass\n')
writeFileSync(join(dir, 'user-only.auth'), 'puser\n')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const file = join(dir, 'c.ovpn')
const TLS = ['client', 'dev tun', 'proto tcp-client', 'remote vpn.example.test 443', '<ca>', 'CA', '</ca>', '<cert>', 'C', '</cert>', '<key>', 'K', '</key>']
const parse = (...lines: string[]) => parseOvpn([...TLS, ...lines].join('\n'), { file })

/** The line number of `line` in TLS + lines (1-based). */
const lineOf = (n: number) => TLS.length + n

describe('http-proxy', () => {
  it('HOST PORT: no authentication', () => {
    const c = parse('http-proxy proxy.lan 3128')
    expect(c.proxy).toMatchObject({ directive: 'http-proxy', line: lineOf(1), spec: { type: 'http', host: 'proxy.lan', port: 3128, authMode: 'none' } })
    expect(c.proxy?.spec.credentials).toBeUndefined()
    expect(tlsSettingsFromOvpn(c).proxy).toEqual(c.proxy?.spec)
  })

  it('authfile (relative to the config) with the default basic method, and explicit basic', () => {
    for (const line of ['http-proxy 127.0.0.1 8080 proxy.auth', 'http-proxy 127.0.0.1 8080 proxy.auth basic', `http-proxy 127.0.0.1 8080 ${join(dir, 'proxy.auth')} BASIC`]) {
      expect(parse(line).proxy?.spec).toMatchObject({ authMode: 'basic', credentials: { username: 'puser', password: 'p ass' } })
    }
    expect(parse('http-proxy 127.0.0.1 8080 proxy.auth none').proxy?.spec).toMatchObject({ authMode: 'none', credentials: undefined })
  })

  it('auto / auto-nct with <http-proxy-user-pass>; options VERSION, AGENT, CUSTOM-HEADER', () => {
    const c = parse(
      'http-proxy 10.0.0.1 3128 auto',
      '<http-proxy-user-pass>',
      'inl',
      'pw',
      '</http-proxy-user-pass>',
      'http-proxy-option VERSION 1.1',
      'http-proxy-option AGENT "OpenVPN/2.6 burrow"',
      'http-proxy-option CUSTOM-HEADER X-Flag some-flags',
      'http-proxy-option custom-header X-Empty',
    )
    expect(c.proxy?.spec).toEqual({
      type: 'http',
      host: '10.0.0.1',
      port: 3128,
      authMode: 'auto',
      credentials: { username: 'inl', password: 'pw' },
      version: '1.1',
      agent: 'OpenVPN/2.6 burrow',
      headers: [
        { name: 'X-Flag', value: 'some-flags' },
        { name: 'X-Empty', value: '' },
      ],
    })
    expect(parse('http-proxy 10.0.0.1 3128 auto-nct').proxy?.spec).toMatchObject({ authMode: 'auto-nct' })
    // http-proxy-user-pass FILE overrides the authfile argument
    expect(parse('http-proxy 10.0.0.1 3128 user-only.auth basic', 'http-proxy-user-pass proxy.auth').proxy).toMatchObject({ spec: { credentials: { username: 'puser', password: 'p ass' } }, ask: undefined })
  })

  it('errors name file:line and the directive', () => {
    const cases: [string[], number, RegExp][] = [
      [['http-proxy proxy.lan'], 1, /http-proxy: expects HOST PORT/],
      [['http-proxy proxy.lan 99999'], 1, /port must be a number in 1\.\.65535/],
      [['http-proxy proxy.lan 3128 proxy.auth ntlm'], 1, /ntlm proxy authentication is not implemented/],
      [['http-proxy proxy.lan 3128 proxy.auth ntlm2'], 1, /ntlm2 proxy authentication is not implemented/],
      [['http-proxy proxy.lan 3128 proxy.auth digest'], 1, /unknown auth-method "digest"/],
      [['http-proxy proxy.lan 3128 auto basic'], 1, /chooses the method itself/],
      [['http-proxy proxy.lan 3128 missing.auth'], 1, /cannot read .*missing\.auth/],
      [['http-proxy proxy.lan 3128', 'http-proxy-option VERSION 2.0'], 2, /VERSION expects 1\.0 or 1\.1/],
      [['http-proxy proxy.lan 3128', 'http-proxy-option FOO bar'], 2, /unknown option type "FOO"/],
      [['http-proxy proxy.lan 3128', 'http-proxy-option CUSTOM-HEADER "bad name" x'], 2, /not a valid HTTP header name/],
      [['http-proxy-option VERSION 1.1'], 1, /http-proxy-option: needs an http-proxy directive/],
      [['http-proxy proxy.lan 3128', 'socks-proxy s.lan'], 2, /socks-proxy: cannot be combined with http-proxy \(line/],
    ]
    for (const [lines, n, re] of cases) {
      const e = catchErr(() => parse(...lines))
      expect(e.message).toMatch(re)
      expect(e.message.startsWith(`${file}:${lineOf(n)}: `)).toBe(true)
      expect(e.line).toBe(lineOf(n))
    }
  })

  it('refuses UDP through an HTTP proxy, naming the proxy line and the UDP remote', () => {
    const e = catchErr(() => parseOvpn(['client', 'dev tun', 'remote vpn.example.test 1194 udp', 'http-proxy proxy.lan 3128'].join('\n'), { file }))
    expect(e.message).toBe(`${file}:4: http-proxy: an HTTP proxy carries only TCP: use "proto tcp-client" (remote vpn.example.test at ${file}:3 is UDP)`)
    // SOCKS5 carries UDP too (UDP ASSOCIATE)
    expect(parseOvpn(['client', 'dev tun', 'proto udp', 'remote vpn.example.test', 'socks-proxy 127.0.0.1 1080'].join('\n'), { file }).proxy?.spec.type).toBe('socks5')
  })
})

describe('socks-proxy', () => {
  it('HOST [PORT=1080] [AUTHFILE]', () => {
    expect(parse('socks-proxy 127.0.0.1').proxy?.spec).toEqual({ type: 'socks5', host: '127.0.0.1', port: 1080 })
    expect(parse('socks-proxy socks.lan 9050 proxy.auth').proxy?.spec).toEqual({ type: 'socks5', host: 'socks.lan', port: 9050, credentials: { username: 'puser', password: 'p ass' } })
    expect(catchErr(() => parse('socks-proxy a 1 b c')).message).toMatch(/expects HOST \[PORT\] \[AUTHFILE\]/)
  })

  it('reaches the static-key tunnel parameters too', () => {
    const key = formatStaticKeyFile(new Uint8Array(256).fill(7))
    const c = parseOvpn(['dev tun', 'proto tcp-client', 'remote 10.0.0.1 1194', 'cipher AES-256-CBC', '<secret>', key, '</secret>', 'socks-proxy 127.0.0.1 1080'].join('\n'), { file })
    expect(staticParamsFromConfig(c).proxy).toEqual({ type: 'socks5', host: '127.0.0.1', port: 1080 })
  })
})

describe('secrets to type in', () => {
  it('stdin and username-only authfiles ask for what is missing; without a prompt a clear error', async () => {
    const c = parse('socks-proxy 127.0.0.1 1080 stdin', 'auth-user-pass', 'askpass')
    expect(missingSecrets(c)).toMatchObject({ proxy: {}, askpass: { name: 'askpass' }, authUserPass: { directive: { name: 'auth-user-pass' } } })
    const asked: PromptRequest[] = []
    const answers: Record<string, string> = { 'key-passphrase': 'kp', 'proxy-username': 'pu', 'proxy-password': 'pp', 'auth-username': 'au', 'auth-password': 'ap' }
    const secrets = await askSecrets(c, async (r) => {
      asked.push(r)
      return answers[r.kind]
    })
    expect(asked.map((r) => [r.kind, r.echo])).toEqual([
      ['key-passphrase', false],
      ['proxy-username', true],
      ['proxy-password', false],
      ['auth-username', true],
      ['auth-password', false],
    ])
    expect(asked[1].message).toBe('Enter SOCKS Proxy Username:')
    const s = tlsSettingsFromOvpn(c, secrets)
    expect(s.proxy).toEqual({ type: 'socks5', host: '127.0.0.1', port: 1080, credentials: { username: 'pu', password: 'pp' } })
    expect(s.userPass).toEqual({ username: 'au', password: 'ap' })
    expect(s.creds.passphrase).toBe('kp')
    // no prompt: each missing secret is a ConfigError naming its line
    expect(catchErr(() => tlsSettingsFromOvpn(c)).message).toMatch(new RegExp(`^${file}:${lineOf(1)}: socks-proxy: the proxy username and password must be typed in, but no interactive prompt is available here`))
    expect(catchErr(() => tlsSettingsFromOvpn(c, { proxyCredentials: { username: 'a', password: 'b' } })).message).toMatch(
      new RegExp(`^${file}:${lineOf(2)}: auth-user-pass: no credentials file given and no interactive prompt is available here`),
    )
  })

  it('a file with only the username asks only for the password', async () => {
    const c = parse('http-proxy p.lan 3128 user-only.auth', '<auth-user-pass>', 'alice', '</auth-user-pass>')
    expect(missingSecrets(c)).toMatchObject({ proxy: { username: 'puser' }, authUserPass: { username: 'alice' } })
    const asked: string[] = []
    const secrets = await askSecrets(c, async (r) => {
      asked.push(r.kind)
      return 'typed'
    })
    expect(asked).toEqual(['proxy-password', 'auth-password'])
    const s = tlsSettingsFromOvpn(c, secrets)
    expect(s.userPass).toEqual({ username: 'alice', password: 'typed' })
    expect(s.proxy?.credentials).toEqual({ username: 'puser', password: 'typed' })
    expect(catchErr(() => tlsSettingsFromOvpn(c, { proxyCredentials: { username: 'x', password: 'y' } })).message).toMatch(/auth-user-pass: the file holds only the username; the password must be typed in/)
    // given secrets are not asked again
    const none = await askSecrets(c, async () => {
      throw new Error('asked')
    }, { userPass: { username: 'u', password: 'p' }, proxyCredentials: { username: 'a', password: 'b' } })
    expect(none.userPass).toEqual({ username: 'u', password: 'p' })
  })
})
