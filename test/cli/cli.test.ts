// Runs the built CLI (dist/, produced by `npm test`'s build step) as a user would.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')
const KEY = join(import.meta.dirname, '..', '..', 'fixtures', 'static.key')

function cli(args: string[], timeout = 30_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, env: { ...process.env, FORCE_COLOR: '0' } })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

function tmpConfig(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-cli-'))
  writeFileSync(join(dir, 'static.key'), readFileSync(KEY))
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('burrow-proxy CLI', () => {
  it('demo --once brings up a tunnel and fetches through both proxies', () => {
    const r = cli(['demo', '--once', '--http', '0', '--socks', '0'], 60_000)
    expect(r.err + r.out).toContain('ok: fetched http://10.8.0.1/ through the HTTP proxy')
    expect(r.out).toContain('through SOCKS5, name resolved by the tunnel')
    expect(r.out).toMatch(/curl --socks5-hostname 127\.0\.0\.1:\d+ http:\/\/demo\.burrow\//)
    expect(r.code).toBe(0)
  })
  it('usage errors exit 2 with a hint', () => {
    const r = cli(['--bogus'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/bogus/i)
    const m = cli([])
    expect(m.code).toBe(2)
    expect(m.err).toContain('missing --config')
  })
  it('a missing config file exits 1 naming the file', () => {
    const r = cli(['--config', '/nonexistent/x.ovpn', '--http', '0', '--socks', '0'])
    expect(r.code).toBe(1)
    expect(r.err).toContain('/nonexistent/x.ovpn')
  })
  it('a bad directive exits 1 naming file, line and directive', () => {
    const p = tmpConfig('bad.ovpn', 'dev tun\nremote 127.0.0.1 1194\nsecret static.key 1\ncipher ROT13-CBC\nifconfig 10.1.0.2 10.1.0.1\n')
    const r = cli(['--config', p, '--http', '0', '--socks', '0'])
    expect(r.code).toBe(1)
    expect(r.err).toContain(`${p}:4`)
    expect(r.err).toMatch(/cipher/)
  })
  it('a malformed static key exits 1 naming the key problem', () => {
    const p = tmpConfig('badkey.ovpn', 'dev tun\nremote 127.0.0.1 1194\n<secret>\n-----BEGIN OpenVPN Static key V1-----\nzz\n-----END OpenVPN Static key V1-----\n</secret>\ncipher AES-256-CBC\nifconfig 10.1.0.2 10.1.0.1\n')
    const r = cli(['--config', p, '--http', '0', '--socks', '0'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/key/i)
    expect(r.err).toContain(p)
  })
  it('an unreachable TCP server exits 1 once connect-retry-max is exhausted', () => {
    const p = tmpConfig('down.ovpn', 'dev tun\nproto tcp-client\nremote 127.0.0.1 9\nconnect-retry 1\nconnect-retry-max 1\nsecret static.key 1\ncipher AES-256-CBC\nifconfig 10.1.0.2 10.1.0.1\n')
    const r = cli(['--config', p, '--http', '0', '--socks', '0'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/ECONNREFUSED|refused/i)
  })
})
