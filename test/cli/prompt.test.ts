// Console prompts for secrets a config leaves to be typed in: the prompt logic against fake
// terminal streams, then the built CLI on a real pseudo-terminal (util-linux `script`), checking
// the prompt text, that the username is echoed and the password is not, and that the typed
// proxy credentials reach the wire (a scripted HTTP proxy captures the CONNECT request); without
// a terminal the CLI keeps its clear error.
import { spawn, spawnSync } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ttyPrompt, PromptAborted, type PromptInput } from '../../src/cli/prompt.js'

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')
const dir = mkdtempSync(join(tmpdir(), 'bxp-prompt-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class FakeTty extends EventEmitter implements PromptInput {
  readonly isTTY = true
  isRaw = false
  rawLog: boolean[] = []
  setRawMode(m: boolean) {
    this.isRaw = m
    this.rawLog.push(m)
  }
  resume() {}
  pause() {}
  /** Type once the prompt listens (a real tty buffers input until then; this fake does not). */
  async type(s: string) {
    await new Promise((r) => setImmediate(r))
    this.emit('data', Buffer.from(s))
  }
}

describe('ttyPrompt', () => {
  it('is undefined when stdin is not a terminal', () => {
    expect(ttyPrompt({ isTTY: false, on() {}, off() {}, resume() {}, pause() {} }, { write() {} })).toBeUndefined()
  })

  it('echoes a username, never a password; backspace, Ctrl-U and typed-ahead input', async () => {
    const tty = new FakeTty()
    let out = ''
    const prompt = ttyPrompt(tty, { write: (s: string) => (out += s) })!
    const u = prompt({ kind: 'auth-username', message: 'Enter Auth Username:', echo: true })
    await tty.type('alx')
    await tty.type('\u007fice\r')
    expect(await u).toBe('alice')
    expect(out).toBe('Enter Auth Username: alx\b \bice\n')
    out = ''
    const p = prompt({ kind: 'auth-password', message: 'Enter Auth Password:', echo: false })
    await tty.type('wrong\u0015s3cr')
    await tty.type('et pw\r\nnext\r')
    expect(await p).toBe('s3cret pw')
    expect(out).toBe('Enter Auth Password: \n')
    expect(tty.isRaw).toBe(false)
    // "next" was typed ahead: the following question is answered from it
    expect(await prompt({ kind: 'key-passphrase', message: 'Enter Private Key Password:', echo: false })).toBe('next')
    expect(tty.listenerCount('data')).toBe(0)
  })

  it('Ctrl-C aborts with a clear error and restores the terminal', async () => {
    const tty = new FakeTty()
    const prompt = ttyPrompt(tty, { write() {} })!
    const p = prompt({ kind: 'auth-password', message: 'pw:', echo: false })
    await tty.type('abc\u0003')
    await expect(p).rejects.toBeInstanceOf(PromptAborted)
    expect(tty.rawLog).toEqual([true, false])
  })
})

const haveScript = spawnSync('script', ['--version']).status === 0
const skipPty = !existsSync(CLI) ? 'dist/cli/main.js missing (npm run build)' : !haveScript ? 'util-linux script(1) missing' : null
if (skipPty) {
  console.log(`SKIP CLI prompt on a pseudo-terminal: ${skipPty}`)
  if (process.env.CI) throw new Error(`CLI prompt test cannot run under CI: ${skipPty}`)
}

/** A proxy that records the CONNECT request and refuses it. */
async function refusingProxy(): Promise<{ port: number; requests: string[]; close(): void }> {
  const requests: string[] = []
  const srv = createServer((s) => {
    let buf = ''
    s.on('data', (d) => {
      buf += d.toString('latin1')
      if (buf.includes('\r\n\r\n')) {
        requests.push(buf)
        s.end('HTTP/1.0 403 Forbidden\r\n\r\n')
      }
    })
    s.on('error', () => {})
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  return { port: (srv.address() as { port: number }).port, requests, close: () => srv.close() }
}

function tlsConfig(name: string, proxyPort: number): string {
  const p = join(dir, name)
  writeFileSync(
    p,
    ['client', 'dev tun', 'proto tcp-client', 'remote vpn.bxp.invalid 1194', 'connect-retry-max 1', `http-proxy 127.0.0.1 ${proxyPort} stdin basic`, 'auth-user-pass', '<ca>', 'CA', '</ca>', ''].join('\n'),
  )
  return p
}

describe.skipIf(skipPty !== null)('CLI prompts on a pseudo-terminal', () => {
  it('asks for the proxy and auth credentials, echoes usernames only, and the proxy login reaches the wire', async () => {
    const proxy = await refusingProxy()
    try {
      const config = tlsConfig('pty.ovpn', proxy.port)
      const cmd = `'${process.execPath}' '${CLI}' --config '${config}' --http 127.0.0.1:0 --socks off`
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
      child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
      const waitOut = async (re: RegExp, from: number) => {
        const t0 = Date.now()
        while (!re.test(out.slice(from))) {
          if (Date.now() - t0 > 15_000) throw new Error(`timed out waiting for ${re}; output so far:\n${out}`)
          await new Promise((r) => setTimeout(r, 20))
        }
        return out.length
      }
      // a user types at each prompt once it is shown
      let at = await waitOut(/Enter HTTP Proxy Username: $/, 0)
      child.stdin.write('proxyuser\r')
      at = await waitOut(/Enter HTTP Proxy Password: $/, at)
      child.stdin.write('proxy-s3cret\r')
      at = await waitOut(/Enter Auth Username: $/, at)
      child.stdin.write('alice\r')
      await waitOut(/Enter Auth Password: $/, at)
      child.stdin.write('auth-s3cret\r')
      const [code] = (await once(child, 'exit')) as [number | null]
      child.stdin.end()
      expect(out).toContain('Enter HTTP Proxy Username: proxyuser')
      expect(out).toContain('Enter Auth Username: alice')
      expect(out).not.toContain('proxy-s3cret')
      expect(out).not.toContain('auth-s3cret')
      // the typed proxy login went out in the CONNECT request; the proxy's refusal is the error shown
      expect(proxy.requests.length).toBeGreaterThan(0)
      expect(proxy.requests[0]).toContain(`CONNECT vpn.bxp.invalid:1194 HTTP/1.0\r\nProxy-Authorization: Basic ${Buffer.from('proxyuser:proxy-s3cret').toString('base64')}\r\n`)
      expect(out).toMatch(/CONNECT vpn\.bxp\.invalid:1194 failed: 403 Forbidden/)
      expect(code).toBe(1)
    } finally {
      proxy.close()
    }
  }, 30_000)

  it('without a terminal: no prompt, a clear error naming file:line, exit 1', async () => {
    const proxy = await refusingProxy()
    try {
      const config = tlsConfig('notty.ovpn', proxy.port)
      const r = spawnSync(process.execPath, [CLI, '--config', config, '--http', '127.0.0.1:0', '--socks', 'off'], { input: 'proxyuser\nproxypw\n', encoding: 'utf8', timeout: 20_000 })
      expect(r.stderr).toContain(`${config}:6: http-proxy: the proxy username and password must be typed in, but no interactive prompt is available here (stdin is not a terminal)`)
      expect(r.stdout + r.stderr).not.toContain('Enter')
      expect(r.status).toBe(1)
      expect(proxy.requests).toEqual([])
    } finally {
      proxy.close()
    }
  }, 30_000)
})
