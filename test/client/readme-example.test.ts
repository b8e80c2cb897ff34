// Runs the README's in-process example verbatim (against the built package) with an in-process
// OpenVPN static-key server on loopback standing in for the user's VPN.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync, mkdtempSync, copyFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadOvpnFile } from '../../src/config/ovpn.js'
import { startDemoServer, type DemoServer } from '../../src/cli/demo-server.js'
import { DEMO_CONFIG } from '../../src/cli/demo.js'

const root = join(import.meta.dirname, '..', '..')

function readmeExample(): string {
  const md = readFileSync(join(root, 'README.md'), 'utf8')
  const m = /```js\n\/\/ example: in-process[^\n]*\n([\s\S]*?)```/.exec(md)
  if (!m) throw new Error('README has no in-process example block')
  return m[1]
}

describe('README in-process example', () => {
  let server: DemoServer
  let dir: string
  beforeAll(async () => {
    const cfg = loadOvpnFile(DEMO_CONFIG)
    server = await startDemoServer(cfg)
    dir = mkdtempSync(join(tmpdir(), 'burrow-readme-'))
    copyFileSync(join(root, 'fixtures', 'static.key'), join(dir, 'static.key'))
    const text = readFileSync(DEMO_CONFIG, 'utf8').replace(/^remote .*$/m, `remote 127.0.0.1 ${server.port}`)
    writeFileSync(join(dir, 'client.ovpn'), text)
  })
  afterAll(async () => {
    await server?.close()
  })

  it('fetch through the dispatcher and a raw connect() both reach the host behind the tunnel', async () => {
    const code = readmeExample().replace("from 'burrow-proxy'", `from ${JSON.stringify(join(root, 'dist', 'index.js'))}`)
    const file = join(root, 'node_modules', '.burrow-readme-example.mjs') // inside the package so 'undici' resolves
    writeFileSync(file, code)
    // async: the in-process server lives in this process and must keep running meanwhile
    const r = await promisify(execFile)(process.execPath, [file], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, BURROW_CONFIG: join(dir, 'client.ovpn') } })
    expect(r.stderr).not.toMatch(/Error/)
    expect(r.stdout).toContain('tunnel up: 10.8.0.2')
    expect(r.stdout).toContain(`fetch: 200 ${Buffer.byteLength(server.page)} bytes`)
    expect(r.stdout).toContain('connect: HTTP/1.1 200 OK')
  })
})
