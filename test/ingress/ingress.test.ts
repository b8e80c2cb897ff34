// --expose and --forward end to end over a real (loopback) OpenVPN static-key tunnel: the demo
// server's netstack plays the VPN peer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type net from 'node:net'
import dgram from 'node:dgram'
import { createHash } from 'node:crypto'
import { loadOvpnFile } from '../../src/config/ovpn.js'
import { createOpenVpnTunnel } from '../../src/openvpn/tunnel.js'
import { startDemoServer, type DemoServer } from '../../src/cli/demo-server.js'
import { DEMO_CONFIG } from '../../src/cli/demo.js'
import { openTunnel, type BurrowTunnel } from '../../src/client/open.js'
import { expose } from '../../src/ingress/expose.js'
import { forward } from '../../src/ingress/forward.js'
import { parseExposeSpec, parseForwardSpec } from '../../src/ingress/spec.js'
import { connectSocket } from '../../src/netstack/socket.js'
import type { NetStackApi } from '../../src/netstack/api.js'

const BODY = Buffer.alloc(5 * 1024 * 1024)
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 31 + (i >> 11)) & 0xff
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** GET / from `host:port` over the given stack; resolves with the body. */
async function getOver(stack: NetStackApi, host: string, port: number): Promise<Buffer> {
  const s = await connectSocket(stack, host, port, { timeoutMs: 5000 })
  s.end(`GET / HTTP/1.0\r\nHost: x\r\n\r\n`)
  const chunks: Buffer[] = []
  for await (const c of s) chunks.push(c as Buffer)
  const all = Buffer.concat(chunks)
  const i = all.indexOf('\r\n\r\n')
  return all.subarray(i + 4)
}

describe('ingress over a loopback tunnel', () => {
  let server: DemoServer
  let vpn: BurrowTunnel
  let local: http.Server
  let localPort: number
  let udpEcho: dgram.Socket
  let udpPort: number
  beforeAll(async () => {
    const cfg = loadOvpnFile(DEMO_CONFIG)
    server = await startDemoServer(cfg)
    cfg.remotes = [{ ...cfg.remotes[0], host: '127.0.0.1', port: server.port }]
    vpn = await openTunnel({ config: createOpenVpnTunnel(cfg), dns: [server.address] })
    local = http.createServer((_req, res) => res.end(BODY))
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r))
    localPort = (local.address() as net.AddressInfo).port
    udpEcho = dgram.createSocket('udp4')
    udpEcho.on('message', (m, r) => udpEcho.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address))
    await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', r))
    udpPort = udpEcho.address().port
  })
  afterAll(async () => {
    await vpn?.close()
    await server?.close()
    local?.close()
    udpEcho?.close()
  })

  it('a VPN peer fetches an exact body from a local server through --expose', async () => {
    const ex = expose(vpn.netstack, parseExposeSpec(`8080=127.0.0.1:${localPort}`))
    try {
      const body = await getOver(server.stack, '10.8.0.2', 8080)
      expect(body.length).toBe(BODY.length)
      expect(sha(body)).toBe(sha(BODY))
      // a port that is not exposed is refused (RST → ECONNREFUSED)
      await expect(server.stack.connectTcp({ host: '10.8.0.2', port: 8081, timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      ex.close()
    }
  })

  it('--expose-allow refuses peers outside the allowed CIDRs', async () => {
    const ex = expose(vpn.netstack, parseExposeSpec(`8082=127.0.0.1:${localPort}`), { allow: [{ address: '10.9.0.0', prefix: 24 }] })
    try {
      await expect(server.stack.connectTcp({ host: '10.8.0.2', port: 8082, timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      ex.close()
    }
    const ok = expose(vpn.netstack, parseExposeSpec(`8083=127.0.0.1:${localPort}`), { allow: [{ address: '10.8.0.0', prefix: 24 }] })
    try {
      expect((await getOver(server.stack, '10.8.0.2', 8083)).length).toBe(BODY.length)
    } finally {
      ok.close()
    }
  })

  it('a UDP request through an exposed UDP port is answered', async () => {
    const ex = expose(vpn.netstack, parseExposeSpec(`udp://5353=127.0.0.1:${udpPort}`))
    const peer = server.stack.openUdp()
    try {
      const reply = new Promise<string>((res) => (peer.onMessage = (d) => res(Buffer.from(d).toString())))
      peer.send(Buffer.from('hello'), '10.8.0.2', 5353)
      expect(await reply).toBe('echo:hello')
      // an unexposed UDP port answers with ICMP port unreachable
      const err = new Promise<Error>((res) => (peer.onError = (e) => res(e)))
      peer.send(Buffer.from('x'), '10.8.0.2', 5354)
      expect((await err).message).toMatch(/unreachable|refused/i)
    } finally {
      peer.close()
      ex.close()
    }
  })

  it('--forward carries a local TCP port to a host behind the tunnel (name resolved inside)', async () => {
    const f = await forward(vpn.netstack, parseForwardSpec('127.0.0.1:0=demo.burrow:80'))
    try {
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ host: f.address.host, port: f.address.port, path: '/' }, (res) => {
          let b = ''
          res.on('data', (d) => (b += d))
          res.on('end', () => resolve(b))
        }).on('error', reject)
      })
      expect(body).toBe(server.page)
    } finally {
      await f.close()
    }
  })

  it('--forward carries UDP with per-source mappings (DNS behind the tunnel answers)', async () => {
    const f = await forward(vpn.netstack, parseForwardSpec(`udp://127.0.0.1:0=${server.address}:7`))
    const c1 = dgram.createSocket('udp4')
    const c2 = dgram.createSocket('udp4')
    try {
      const ask = (c: dgram.Socket, msg: string) =>
        new Promise<string>((res) => {
          c.once('message', (m) => res(m.toString()))
          c.send(msg, f.address.port, f.address.host)
        })
      expect(await ask(c1, 'one')).toBe('one')
      expect(await ask(c2, 'two')).toBe('two')
      expect(f.active).toBe(2)
    } finally {
      c1.close()
      c2.close()
      await f.close()
    }
  })
})
