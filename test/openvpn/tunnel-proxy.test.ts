// The static-key tunnel through burrow's own proxy server, in-process on loopback: HTTP CONNECT
// (TCP), SOCKS5 CONNECT (TCP) and SOCKS5 UDP ASSOCIATE (UDP). The client knows the server only by
// a name that the proxy's dialer alone maps to 127.0.0.1, so packets can only flow via the proxy;
// losing the proxy (and with it a UDP association) makes the client reconnect.
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOvpnFile } from '../../src/config/ovpn.js'
import { createOpenVpnStaticServer, serverParamsFromClient, staticParamsFromConfig } from '../../src/openvpn/tunnel.js'
import { OpenVpnStaticTunnel } from '../../src/openvpn/tunnel-static.js'
import { ProxyServer } from '../../src/proxy/server.js'
import { DirectDialer, type Dialer, type UdpFlow } from '../../src/proxy/dialer.js'
import type { ProxySpec } from '../../src/transport/via-proxy.js'

const FIXTURE = join(import.meta.dirname, '../../fixtures/static-client.ovpn')
const NAME = 'vpn.bxp.invalid'
const closers: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await wait(10)
  }
}

class NameMappingDialer implements Dialer {
  readonly seen: string[] = []
  private readonly direct = new DirectDialer()
  connect(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    this.seen.push(`tcp ${host}:${port}`)
    return this.direct.connect(host === NAME ? '127.0.0.1' : host, port, signal)
  }
  async openUdp(): Promise<UdpFlow> {
    const flow = await this.direct.openUdp()
    const seen = this.seen
    return {
      send(data, host, port) {
        seen.push(`udp ${host}:${port}`)
        flow.send(data, host === NAME ? '127.0.0.1' : host, port)
      },
      get onMessage() {
        return flow.onMessage
      },
      set onMessage(fn) {
        flow.onMessage = fn
      },
      close: () => flow.close(),
    }
  }
}

const AUTH = { username: 'u1', password: 'p w' }

async function setup(proto: 'tcp' | 'udp', kind: 'http' | 'socks5') {
  const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
  const server = createOpenVpnStaticServer({ ...serverParamsFromClient(base), pingRestart: 0 }, { proto })
  closers.push(() => server.close())
  await server.start()
  const dialer = new NameMappingDialer()
  const proxy = new ProxyServer({ host: '127.0.0.1', port: 0, dialer, auth: AUTH })
  closers.push(() => proxy.close())
  const { port } = await proxy.start()
  const spec: ProxySpec = kind === 'http' ? { type: 'http', host: '127.0.0.1', port, authMode: 'basic', credentials: AUTH } : { type: 'socks5', host: '127.0.0.1', port, credentials: AUTH }
  const client = new OpenVpnStaticTunnel({ ...base, remotes: [{ host: NAME, port: server.port, proto }], proxy: spec, connectRetry: 1 })
  closers.push(() => client.close())
  const clientRx: Uint8Array[] = []
  server.attach((p) => server.send(p), () => {})
  client.attach((p) => clientRx.push(new Uint8Array(p)), () => {})
  return { server, client, clientRx, dialer, proxy, proxyPort: port }
}


describe('static-key tunnel through a proxy', () => {
  for (const [proto, kind] of [
    ['tcp', 'http'],
    ['tcp', 'socks5'],
    ['udp', 'socks5'],
  ] as const) {
    it(`${proto} via ${kind}: packets round-trip, the proxy saw the server by name`, async () => {
      const { client, clientRx, dialer, server } = await setup(proto, kind)
      const info = await client.start()
      expect(info.description).toContain(`via ${kind === 'http' ? 'http-proxy' : 'socks-proxy'} 127.0.0.1:`)
      for (let i = 0; i < 30; i++) client.send(new Uint8Array(40 + i * 40).fill(i))
      await until(() => clientRx.length === 30)
      expect(clientRx[29]).toEqual(new Uint8Array(40 + 29 * 40).fill(29))
      const want = `${proto} ${NAME}:${server.port}`
      expect(dialer.seen.length).toBeGreaterThan(0)
      expect(new Set(dialer.seen)).toEqual(new Set([want]))
    })
  }

  it('each remote uses its own proxy (from its <connection> block) before the global one', async () => {
    const { server, dialer, proxyPort } = await setup('tcp', 'http')
    const base = staticParamsFromConfig(loadOvpnFile(FIXTURE))
    const dead: ProxySpec = { type: 'http', host: '127.0.0.1', port: 1, authMode: 'none' }
    const before = dialer.seen.length
    // the working proxy is only on remote 2; remote 1's own proxy and the global one are dead
    const own: ProxySpec = { type: 'socks5', host: '127.0.0.1', port: proxyPort, credentials: AUTH }
    const client = new OpenVpnStaticTunnel({
      ...base,
      remotes: [
        { host: NAME, port: server.port, proto: 'tcp', proxy: dead },
        { host: NAME, port: server.port, proto: 'tcp', proxy: own },
      ],
      proxy: dead,
      connectRetry: 1,
    })
    closers.push(() => client.close())
    const info = await client.start()
    expect(info.description).toContain(`via socks-proxy 127.0.0.1:${own.port}`)
    expect(dialer.seen.slice(before)).toEqual([`tcp ${NAME}:${server.port}`])
  })

  it('udp via socks5: the proxy going away ends the association; the client reconnects', async () => {
    const { client, proxy } = await setup('udp', 'socks5')
    await client.start()
    const events: string[] = []
    client.on('reconnecting', (why) => events.push(String((why as Error | undefined)?.message ?? why)))
    await proxy.close()
    await until(() => events.length > 0)
    expect(events[0]).toMatch(/SOCKS5 control connection closed; the UDP association is gone/)
  })
})
