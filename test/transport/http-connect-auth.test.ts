// HTTP CONNECT with Digest (RFC 7616) and NTLMv2 (MS-NLMP) against a scripted proxy on a real
// loopback socket: the proxy side recomputes what a correct client must send (Digest response
// from the password; NTProofStr from the NTLMv2 blob the client sent) and only then says 200.
import type { Socket } from 'node:net'
import { createHash, createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { connectTransport } from '../../src/transport/connect.js'
import type { HttpProxySpec } from '../../src/transport/via-proxy.js'
import { parseChallenges } from '../../src/transport/proxy-auth.js'
import { ntowfv2 } from '../../src/transport/ntlm.js'
import type { Transport } from '../../src/tunnel/types.js'
import type { BurrowError } from '../../src/core/errors.js'
import { scriptedProxy } from './scripted-proxy.js'

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** A scripted proxy whose handler reads requests one by one from each connection. */
async function proxy(handler: (read: () => Promise<string>, sock: Socket, index: number) => Promise<void>): Promise<{ port: number; count: () => number }> {
  const p = await scriptedProxy((c, i) => handler(() => c.nextRequest(), c.sock, i))
  cleanups.push(p.close)
  return { port: p.port, count: () => p.conns.length }
}

const frame = (...bytes: number[]) => Buffer.from([bytes.length >> 8, bytes.length & 0xff, ...bytes])
const OK = Buffer.concat([Buffer.from('HTTP/1.0 200 Connection established\r\n\r\n'), frame(7)])
const TARGET = { proto: 'tcp' as const, host: 'vpn.example.test', port: 1194 }
const CREDS = { username: 'Mufasa', password: 'Circle of Life' }
const spec = (port: number, extra: Partial<HttpProxySpec>): HttpProxySpec => ({ type: 'http', host: '127.0.0.1', port, authMode: 'auto', credentials: CREDS, ...extra })
const header = (req: string, name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(req)?.[1]
const md5 = (s: string) => createHash('md5').update(s).digest('hex')

function firstMsg(t: Transport): Promise<number[]> {
  return new Promise((resolve, reject) => t.attach((m) => resolve([...m]), (e) => reject(e ?? new Error('closed'))))
}
async function connectOk(p: HttpProxySpec): Promise<void> {
  const t = await connectTransport({ ...TARGET, proxy: p, timeoutMs: 3000 })
  cleanups.push(() => t.close())
  expect(await firstMsg(t)).toEqual([7])
}
async function failure(p: HttpProxySpec): Promise<BurrowError> {
  return connectTransport({ ...TARGET, proxy: p, timeoutMs: 3000 }).then(
    () => {
      throw new Error('connected, but it should have failed')
    },
    (e: unknown) => e as BurrowError,
  )
}

/** Server-side check of a Digest answer (MD5, qop auth) for CONNECT vpn.example.test:1194. */
function digestValid(req: string, nonce: string): boolean {
  const v = header(req, 'Proxy-Authorization')
  if (!v?.startsWith('Digest ')) return false
  const a = parseChallenges([v])[0].params
  const ha1 = md5(`${CREDS.username}:proxy realm:${CREDS.password}`)
  const ha2 = md5('CONNECT:vpn.example.test:1194')
  return a.uri === 'vpn.example.test:1194' && a.nonce === nonce && a.nc === '00000001' && a.opaque === 'op"q' && a.response === md5(`${ha1}:${nonce}:${a.nc}:${a.cnonce}:auth:${ha2}`)
}
const DIGEST_407 = (nonce: string, stale = false) =>
  `HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy realm"\r\nProxy-Authenticate: Digest realm="proxy realm", nonce="${nonce}", qop="auth,auth-int", opaque="op\\"q"${stale ? ', stale=true' : ''}\r\n\r\n`

describe('Digest via auto / auto-nct', () => {
  it.each(['auto', 'auto-nct'] as const)('%s: 407 offering Basic and Digest is answered with Digest on a new connection', async (mode) => {
    const seen: string[] = []
    const { port, count } = await proxy(async (read, sock) => {
      const req = await read()
      seen.push(req)
      if (digestValid(req, 'n1')) sock.write(OK)
      else sock.end(DIGEST_407('n1'))
    })
    await connectOk(spec(port, { authMode: mode }))
    expect(count()).toBe(2)
    expect(seen[0]).not.toContain('Proxy-Authorization')
  })

  it('stale=true: answers the fresh nonce once more', async () => {
    const { port, count } = await proxy(async (read, sock, i) => {
      const req = await read()
      if (i === 2 && digestValid(req, 'n2')) sock.write(OK)
      else sock.end(DIGEST_407(i === 0 ? 'n1' : 'n2', i === 1))
    })
    await connectOk(spec(port, {}))
    expect(count()).toBe(3)
  })

  it('a wrong password is a clear ERR_AUTH naming Digest', async () => {
    const { port } = await proxy(async (read, sock) => {
      const req = await read()
      if (digestValid(req, 'n1')) sock.write(OK)
      else sock.end(DIGEST_407('n1'))
    })
    const e = await failure(spec(port, { credentials: { username: 'Mufasa', password: 'wrong' } }))
    expect(e.code).toBe('ERR_AUTH')
    expect(e.message).toMatch(/rejected the username\/password \(Digest\)/)
  })

  it('only unsupported schemes offered: names them', async () => {
    const { port } = await proxy(async (read, sock) => {
      await read()
      sock.end('HTTP/1.1 407 Auth\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: Digest realm="x", nonce="n", qop="auth-int"\r\n\r\n')
    })
    const e = await failure(spec(port, {}))
    expect(e.message).toMatch(/offers negotiate, digest\): none of the offered authentication schemes is supported/)
  })
})

// ---------------------------------------------------------------------------------------- NTLM

const CHALLENGE = Buffer.from('0123456789abcdef', 'hex')
const INFO = Buffer.from('02000c0044006f006d00610069006e0001000c005300650072007600650072000000' + '0000', 'hex')
function type2(): Buffer {
  const m = Buffer.alloc(48 + INFO.length)
  m.write('NTLMSSP\0', 'latin1')
  m.writeUInt32LE(2, 8)
  m.writeUInt32LE(48, 16)
  m.writeUInt32LE(0x00888205, 20)
  CHALLENGE.copy(m, 24)
  m.writeUInt16LE(INFO.length, 40)
  m.writeUInt16LE(INFO.length, 42)
  m.writeUInt32LE(48, 44)
  INFO.copy(m, 48)
  return m
}
/** Verify a type 3 message as a domain controller would: recompute NTProofStr from the blob. */
function type3Valid(b64: string, user: string, domain: string, password: string): boolean {
  const m = Buffer.from(b64, 'base64')
  if (m.toString('latin1', 0, 8) !== 'NTLMSSP\0' || m.readUInt32LE(8) !== 3) return false
  const f = (k: number) => m.subarray(m.readUInt32LE(12 + 8 * k + 4), m.readUInt32LE(12 + 8 * k + 4) + m.readUInt16LE(12 + 8 * k))
  const nt = f(1)
  if (f(2).toString('utf16le') !== domain || f(3).toString('utf16le') !== user) return false
  const key = ntowfv2(password, user, domain)
  const proof = createHmac('md5', key).update(CHALLENGE).update(nt.subarray(16)).digest()
  return proof.equals(nt.subarray(0, 16)) && nt.subarray(16 + 28, 16 + 28 + INFO.length).equals(INFO)
}

function ntlmProxy(opts: { firstPlain?: boolean; body?: string; close?: boolean } = {}) {
  const seen: string[] = []
  return {
    seen,
    handler: async (read: () => Promise<string>, sock: Socket, i: number) => {
      let req = await read()
      seen.push(req)
      if (opts.firstPlain && i === 0) {
        sock.end('HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nProxy-Authenticate: Basic realm="r"\r\n\r\n')
        return
      }
      const auth = header(req, 'Proxy-Authorization') ?? ''
      const t1 = Buffer.from(auth.replace(/^NTLM /, ''), 'base64')
      if (!auth.startsWith('NTLM ') || t1.readUInt32LE(8) !== 1 || !/Proxy-Connection: Keep-Alive/i.test(req)) return void sock.end('HTTP/1.0 400 Bad\r\n\r\n')
      const body = opts.body ?? 'denied'
      sock.write(`HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM ${type2().toString('base64')}\r\n${opts.close ? 'Connection: close\r\n' : ''}Content-Length: ${body.length}\r\n\r\n${body}`)
      req = await read()
      seen.push(req)
      const a3 = (header(req, 'Proxy-Authorization') ?? '').replace(/^NTLM /, '')
      if (type3Valid(a3, 'alice', 'CORP', 'pw')) sock.write(OK)
      else sock.end('HTTP/1.0 407 Nope\r\nProxy-Authenticate: NTLM\r\n\r\n')
    },
  }
}

describe('NTLMv2', () => {
  it('ntlm2: negotiate, challenge (407 body consumed), authenticate on the same connection', async () => {
    const np = ntlmProxy({ body: 'x'.repeat(300) })
    const { port, count } = await proxy(np.handler)
    await connectOk(spec(port, { authMode: 'ntlm2', credentials: { username: 'CORP\\alice', password: 'pw' } }))
    expect(count()).toBe(1)
    expect(np.seen.length).toBe(2)
  })

  it('auto: a 407 offering NTLM and Basic is answered with NTLM on a new kept-alive connection', async () => {
    const np = ntlmProxy({ firstPlain: true })
    const { port, count } = await proxy(np.handler)
    await connectOk(spec(port, { authMode: 'auto-nct', credentials: { username: 'CORP\\alice', password: 'pw' } }))
    expect(count()).toBe(2)
  })

  it('wrong password: ERR_AUTH naming NTLM', async () => {
    const { port } = await proxy(ntlmProxy().handler)
    const e = await failure(spec(port, { authMode: 'ntlm2', credentials: { username: 'CORP\\alice', password: 'bad' } }))
    expect(e.code).toBe('ERR_AUTH')
    expect(e.message).toMatch(/rejected the username\/password \(NTLM\)/)
  })

  it('a proxy that closes after the challenge, or sends a hostile challenge, is a clear error', async () => {
    const { port } = await proxy(ntlmProxy({ close: true }).handler)
    expect((await failure(spec(port, { authMode: 'ntlm2', credentials: { username: 'a', password: 'b' } }))).message).toMatch(/NTLM needs it kept alive/)
    const bad = type2()
    bad.writeUInt32LE(0xfffffff0, 44) // target info offset far outside the message
    const { port: p2 } = await proxy(async (read, sock) => {
      await read()
      sock.write(`HTTP/1.1 407 X\r\nProxy-Authenticate: NTLM ${bad.toString('base64')}\r\nContent-Length: 0\r\n\r\n`)
    })
    const e = await failure(spec(p2, { authMode: 'ntlm2', credentials: { username: 'a', password: 'b' } }))
    expect(e.code).toBe('ERR_PROTOCOL')
    expect(e.message).toMatch(/malformed NTLM challenge/)
  })

  it('chunked 407 body cannot be kept alive: clear error', async () => {
    const { port } = await proxy(async (read, sock) => {
      await read()
      sock.write(`HTTP/1.1 407 X\r\nProxy-Authenticate: NTLM ${type2().toString('base64')}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`)
    })
    expect((await failure(spec(port, { authMode: 'ntlm2', credentials: { username: 'a', password: 'b' } }))).message).toMatch(/Transfer-Encoding chunked/)
  })
})
