// http-proxy / http-proxy-option / http-proxy-user-pass / socks-proxy in .ovpn files (globally and
// inside <connection> blocks), their errors (file:line), and how they reach the tunnel settings
// together with typed-in secrets.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseOvpn } from '../../src/config/ovpn.js'
import { tlsSettingsFromOvpn } from '../../src/openvpn/tls/options.js'
import { staticParamsFromConfig } from '../../src/openvpn/tunnel.js'
import { askSecrets, attachProxyPrompt, missingSecrets, type PromptRequest } from '../../src/openvpn/credentials.js'
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

  it('ntlm2 with an authfile (DOMAIN\\user kept as written)', () => {
    writeFileSync(join(dir, 'ntlm.auth'), 'CORP\\alice\npw\n')
    expect(parse('http-proxy 127.0.0.1 8080 ntlm.auth ntlm2').proxy?.spec).toMatchObject({ authMode: 'ntlm2', credentials: { username: 'CORP\\alice', password: 'pw' } })
    expect(parse('http-proxy 127.0.0.1 8080 ntlm.auth NTLM2').proxy?.spec).toMatchObject({ authMode: 'ntlm2' })
    // stdin: asked for, then applied
    const c = parse('http-proxy 127.0.0.1 8080 stdin ntlm2')
    expect(c.proxy).toMatchObject({ spec: { authMode: 'ntlm2' }, ask: {} })
    expect(tlsSettingsFromOvpn(c, { proxyCredentials: { username: 'D\\u', password: 'x' } }).proxy).toMatchObject({ authMode: 'ntlm2', credentials: { username: 'D\\u', password: 'x' } })
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
      [['http-proxy proxy.lan 3128 proxy.auth ntlm'], 1, /NTLMv1 is refused: .*broken crypto.*use "ntlm2"/],
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

describe('proxies in <connection> blocks', () => {
  const BASE = ['client', 'dev tun', '<ca>', 'CA', '</ca>', '<cert>', 'C', '</cert>', '<key>', 'K', '</key>']
  const conf = (...lines: string[]) => parseOvpn([...BASE, ...lines].join('\n'), { file })
  const at = (n: number) => BASE.length + n

  it("a block's own proxy wins; the global proxy serves the other remotes; http-proxy-user-pass is shared", () => {
    const c = conf(
      'http-proxy global.lan 3128 auto', // 1
      '<http-proxy-user-pass>', // 2
      'gu',
      'gp',
      '</http-proxy-user-pass>', // 5
      '<connection>', // 6
      'remote a.example 443 tcp-client', // 7
      'http-proxy own.lan 8080 auto-nct', // 8
      'http-proxy-option AGENT burrow', // 9
      '</connection>',
      '<connection>', // 11
      'remote b.example 443 tcp-client', // 12
      'socks-proxy s.lan 1080', // 13
      'nobind', // 14
      'connect-timeout 5', // 15
      'explicit-exit-notify 2', // 16
      '</connection>',
      'remote c.example 443 tcp-client', // 18
    )
    expect(c.proxy?.spec).toMatchObject({ host: 'global.lan', authMode: 'auto', credentials: { username: 'gu', password: 'gp' } })
    expect(c.remotes.map((r) => r.host)).toEqual(['a.example', 'b.example', 'c.example'])
    expect(c.remotes[0].proxy).toMatchObject({ line: at(8), spec: { host: 'own.lan', port: 8080, authMode: 'auto-nct', agent: 'burrow', credentials: { username: 'gu', password: 'gp' } } })
    expect(c.remotes[1].proxy).toMatchObject({ line: at(13), directive: 'socks-proxy', spec: { type: 'socks5', host: 's.lan', port: 1080 } })
    expect(c.remotes[2].proxy).toBe(c.proxy)
    for (const n of [14, 15, 16]) expect(c.warnings.some((w) => w.startsWith(`${file}:${at(n)}: `) && w.includes('ignored inside <connection>'))).toBe(true)
    // both tunnels see each remote's proxy
    const s = tlsSettingsFromOvpn(c)
    expect(s.remotes.map((r) => r.proxy?.spec.host)).toEqual(['own.lan', 's.lan', 'global.lan'])
  })

  it("without a global proxy only the block's remote is proxied", () => {
    const c = conf('<connection>', 'remote a.example 443 tcp-client', 'http-proxy own.lan 8080', '</connection>', '<connection>', 'remote b.example 1194 udp', '</connection>')
    expect(c.proxy).toBeUndefined()
    expect(c.remotes[0].proxy?.spec.host).toBe('own.lan')
    expect(c.remotes[1].proxy).toBeUndefined()
  })

  it('errors name file:line: UDP remote with an HTTP proxy (global or own), user-pass inside, two proxies', () => {
    const cases: [string[], number, RegExp][] = [
      [['<connection>', 'remote a.example 1194 udp', 'http-proxy own.lan 8080', '</connection>'], 3, /http-proxy: an HTTP proxy carries only TCP: .*remote a\.example at .*:\d+ is UDP/],
      [['http-proxy g.lan 3128', '<connection>', 'remote a.example 1194 udp', '</connection>'], 1, /http-proxy: an HTTP proxy carries only TCP/],
      [['<connection>', 'remote a.example 443 tcp-client', 'http-proxy own.lan 8080', 'http-proxy-user-pass x.auth', '</connection>'], 4, /http-proxy-user-pass: is a global option/],
      [['<connection>', 'remote a.example 443 tcp-client', 'http-proxy own.lan 8080', 'socks-proxy s.lan', '</connection>'], 4, /socks-proxy: cannot be combined with http-proxy/],
      [['<connection>', 'remote a.example 443 tcp-client', 'http-proxy-option VERSION 1.1', '</connection>'], 3, /http-proxy-option: needs an http-proxy directive/],
      [['<connection>', 'remote a.example 443 tcp-client', 'http-proxy own.lan 8080 missing.auth', '</connection>'], 3, /cannot read .*missing\.auth/],
      [['<connection>', 'remote a.example 443 tcp-client', 'cipher AES-256-GCM', '</connection>'], 3, /cipher: not supported inside a <connection> block/],
      [['socks-proxy s.lan', 'http-proxy-user-pass proxy.auth', '<connection>', 'remote a.example 443 tcp-client', '</connection>'], 2, /http-proxy-user-pass: needs an http-proxy directive/],
    ]
    for (const [lines, n, re] of cases) {
      const e = catchErr(() => conf(...lines))
      expect(e.message).toMatch(re)
      expect(e.message.startsWith(`${file}:${at(n)}: `)).toBe(true)
    }
  })

  it('a block proxy with "stdin" is asked for, and the answer reaches that remote', async () => {
    const c = conf('<connection>', 'remote a.example 443 tcp-client', 'socks-proxy s.lan 1080 stdin', '</connection>', 'remote b.example 443 tcp-client')
    expect(missingSecrets(c)).toMatchObject({ proxy: { directive: 'socks-proxy' } })
    const secrets = await askSecrets(c, async (r) => (r.kind === 'proxy-username' ? 'su' : 'sp'))
    expect(catchErr(() => tlsSettingsFromOvpn(c)).message).toMatch(new RegExp(`^${file}:${at(3)}: socks-proxy: the proxy username and password must be typed in`))
    const s = tlsSettingsFromOvpn(c, secrets)
    expect(s.remotes[0].proxy?.spec.credentials).toEqual({ username: 'su', password: 'sp' })
    expect(s.remotes[1].proxy).toBeUndefined()
  })

  it("the static-key tunnel parameters carry each remote's proxy", () => {
    const key = formatStaticKeyFile(new Uint8Array(256).fill(7))
    const c = parseOvpn(['dev tun', 'cipher AES-256-CBC', '<secret>', key, '</secret>', 'proto tcp-client', '<connection>', 'remote 10.0.0.1 1194', 'http-proxy h.lan 3128', '</connection>', 'remote 10.0.0.2 1194'].join('\n'), { file })
    const p = staticParamsFromConfig(c)
    expect(p.remotes.map((r) => r.proxy?.host)).toEqual(['h.lan', undefined])
  })
})

describe('http-proxy auto without a login', () => {
  it('gets one shared prompt, asked only when a proxy calls it, once, with OpenVPN\'s wording', async () => {
    const c = parse('http-proxy p.lan 3128 auto-nct', '<connection>', 'remote a.example 443 tcp-client', 'http-proxy q.lan 8080 auto', '</connection>')
    expect(missingSecrets(c)).toEqual({}) // nothing to ask up front
    const asked: PromptRequest[] = []
    expect(attachProxyPrompt(c, async (r) => (asked.push(r), r.kind === 'proxy-username' ? 'u' : 'pw'))).toBe(2)
    expect(asked).toEqual([])
    const g = c.proxy!.spec
    const own = c.remotes[0].proxy!.spec
    if (g.type !== 'http' || own.type !== 'http') throw new Error('http proxies expected')
    expect(await own.askCredentials!()).toEqual({ username: 'u', password: 'pw' })
    expect(await g.askCredentials!()).toEqual({ username: 'u', password: 'pw' })
    expect(asked.map((r) => [r.message, r.echo])).toEqual([
      ['Enter HTTP Proxy Username:', true],
      ['Enter HTTP Proxy Password:', false],
    ])
    // the tunnel settings hand the same spec on, so the transport reaches the prompt
    expect(tlsSettingsFromOvpn(c).proxy).toBe(g)
  })

  it('leaves alone proxies that have a login, another method, or are SOCKS; an interrupted prompt is asked again', async () => {
    const c = parse('http-proxy p.lan 3128 auto', '<http-proxy-user-pass>', 'a', 'b', '</http-proxy-user-pass>', '<connection>', 'remote a.example 443 tcp-client', 'socks-proxy s.lan', '</connection>', '<connection>', 'remote b.example 443 tcp-client', 'http-proxy r.lan 3128', '</connection>')
    expect(attachProxyPrompt(c, async () => 'x')).toBe(0)
    const d = parse('http-proxy p.lan 3128 auto')
    let n = 0
    attachProxyPrompt(d, async () => {
      if (n++ === 0) throw new Error('interrupted')
      return 'y'
    })
    const spec = d.proxy!.spec
    if (spec.type !== 'http') throw new Error('http proxy expected')
    await expect(spec.askCredentials!()).rejects.toThrow('interrupted')
    expect(await spec.askCredentials!()).toEqual({ username: 'y', password: 'y' })
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
