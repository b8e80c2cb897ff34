import { describe, expect, it } from 'vitest'
import { parseArgs, UsageError } from '../../src/cli/options.js'

describe('CLI options', () => {
  it('has the documented defaults', async () => {
    const o = await parseArgs(['--config', 'a.ovpn'])
    if (o === 'exit') throw new Error('unexpected')
    expect(o.command).toBe('run')
    expect(o.http).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(o.socks).toEqual({ host: '127.0.0.1', port: 1080 })
    expect(o.noDirect).toBe(false)
  })
  it('accepts off, dns, no-direct, proxy-auth and demo', async () => {
    const o = await parseArgs(['-c', 'x.conf', '--http', 'off', '--socks', '1090', '--dns', '10.0.0.1', '--no-direct', '--proxy-auth', 'u:p:w'])
    if (o === 'exit') throw new Error('unexpected')
    expect(o.http).toBeNull()
    expect(o.socks).toEqual({ host: '127.0.0.1', port: 1090 })
    expect(o.dns).toEqual(['10.0.0.1'])
    expect(o.noDirect).toBe(true)
    expect(o.proxyAuth).toEqual({ username: 'u', password: 'p:w' })
    const d = await parseArgs(['demo', '--once'])
    expect(d !== 'exit' && d.command === 'demo' && d.once).toBe(true)
  })
  it('refuses non-loopback binds unless --allow-remote, then warns', async () => {
    await expect(parseArgs(['-c', 'a', '--http', '0.0.0.0:8080'])).rejects.toThrow(/--allow-remote/)
    const o = await parseArgs(['-c', 'a', '--http', '0.0.0.0:8080', '--allow-remote'])
    expect(o !== 'exit' && o.warnings[0]).toMatch(/anyone who can reach it/)
  })
  it('rejects missing config, bad dns, unknown flags with UsageError', async () => {
    await expect(parseArgs([])).rejects.toBeInstanceOf(UsageError)
    await expect(parseArgs(['-c', 'a', '--dns', 'nope'])).rejects.toThrow(/--dns nope/)
    await expect(parseArgs(['-c', 'a', '--bogus'])).rejects.toThrow(/bogus/i)
    await expect(parseArgs(['-c', 'a', '--proxy-auth', 'nocolon'])).rejects.toThrow(/USER:PASS/)
  })
})
