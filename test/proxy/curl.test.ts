// The proxies driven by the real curl binary, as a user would (loopback only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, execFileSync } from 'node:child_process'
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ProxyServer } from '../../src/proxy/server.js'
import { closeServer, listen, startProxy } from './helpers.js'

function haveCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const curlOk = haveCurl()
if (!curlOk) {
  if (process.env.CI) throw new Error('curl is required for test/proxy/curl.test.ts under CI')
  console.warn('SKIPPING test/proxy/curl.test.ts: curl binary not found')
}

function curl(args: string[]): Promise<{ stdout: Buffer; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout) => {
      resolve({ stdout, code: err ? ((err as { code?: number }).code ?? 1) : 0 })
    })
  })
}

describe.skipIf(!curlOk)('curl through the proxies', () => {
  let proxy: ProxyServer
  let port: number
  let origin: http.Server
  let oport: number
  let dir: string
  const big = randomBytes(10 * 1024 * 1024)
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

  beforeAll(async () => {
    ;({ proxy, port } = await startProxy())
    origin = http.createServer((req, res) => {
      if (req.url === '/big') return res.end(big)
      const h = createHash('sha256')
      let n = 0
      req.on('data', (c: Buffer) => {
        h.update(c)
        n += c.length
      })
      req.on('end', () => res.end(`${req.method} ${n} ${h.digest('hex')}`))
    })
    oport = await listen(origin)
    dir = mkdtempSync(join(tmpdir(), 'bp-proxy-'))
    writeFileSync(join(dir, 'up.bin'), big)
  })
  afterAll(async () => {
    await proxy.close()
    await closeServer(origin)
    rmSync(dir, { recursive: true, force: true })
  })

  it('HTTP proxy: GET, 10 MB POST, CONNECT (-p)', async () => {
    const get = await curl(['-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${oport}/big`])
    expect(get.code).toBe(0)
    expect(sha(get.stdout)).toBe(sha(big))
    const post = await curl(['-x', `http://127.0.0.1:${port}`, '--data-binary', `@${join(dir, 'up.bin')}`, `http://127.0.0.1:${oport}/up`])
    expect(post.stdout.toString()).toBe(`POST ${big.length} ${sha(big)}`)
    const tunnel = await curl(['-p', '-x', `http://127.0.0.1:${port}`, `http://127.0.0.1:${oport}/big`])
    expect(sha(tunnel.stdout)).toBe(sha(big))
  })

  it('SOCKS5 with remote name resolution, SOCKS4 and SOCKS4a', async () => {
    for (const [flag, host] of [
      ['--socks5-hostname', 'localhost'],
      ['--socks5', '127.0.0.1'],
      ['--socks4', '127.0.0.1'],
      ['--socks4a', 'localhost'],
    ] as const) {
      const r = await curl([flag, `127.0.0.1:${port}`, `http://${host}:${oport}/big`])
      expect(r.code, flag).toBe(0)
      expect(sha(r.stdout), flag).toBe(sha(big))
    }
  })
})
