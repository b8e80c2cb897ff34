// The far end of the demo: an in-process OpenVPN static-key server on loopback with its own
// netstack, serving on its tunnel address an HTTP page, a DNS name (demo.burrow) and UDP echo.
// Nothing here leaves the machine: the "VPN server" is a UDP socket on 127.0.0.1.
import http from 'node:http'
import { RealClock, type Clock } from '../core/clock.js'
import { DnsRcode, DnsType, encodeMessage, parseDnsMessage } from '../netstack/dns/message.js'
import { NetStack } from '../netstack/stack.js'
import { tcpConnToSocket } from '../netstack/socket.js'
import type { OvpnConfig } from '../config/ovpn.js'
import { createOpenVpnStaticServer, serverParamsFromClient, staticParamsFromConfig } from '../openvpn/tunnel.js'
import type { OpenVpnStaticTunnel } from '../openvpn/tunnel-static.js'
import { parseIp } from '../netstack/addr.js'

export const DEMO_NAME = 'demo.burrow'

export interface DemoServer {
  /** The server's tunnel address (where the page, DNS and echo live). */
  address: string
  /** The loopback UDP port the client must connect to. */
  port: number
  page: string
  /** The server's own netstack (tests use it to act as a VPN peer). */
  stack: NetStack
  close(): Promise<void>
}

export function demoPage(address: string): string {
  return `<!doctype html><title>burrow-proxy demo</title><h1>Hello through the tunnel</h1><p>Served by a netstack at ${address} behind an in-process OpenVPN static-key server.</p>\n`
}

export async function startDemoServer(clientConfig: OvpnConfig, clock: Clock = new RealClock()): Promise<DemoServer> {
  const params = serverParamsFromClient(staticParamsFromConfig(clientConfig))
  const proto = clientConfig.remotes[0]?.proto ?? 'udp'
  const tunnel: OpenVpnStaticTunnel = createOpenVpnStaticServer(params, { proto, host: '127.0.0.1', port: 0 }, { clock })
  const info = await tunnel.start()
  const stack = new NetStack({ link: tunnel, addresses: info.addresses, clock })
  const address = info.addresses[0].address
  const page = demoPage(address)

  const web = http.createServer((req, res) => {
    if (req.url === '/bytes' || req.url?.startsWith('/bytes?')) {
      const n = Math.min(Number(new URL(req.url, 'http://x').searchParams.get('n') ?? '1048576') || 0, 1 << 30)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n })
      const chunk = Buffer.alloc(65536, 0x61)
      let left = n
      const pump = () => {
        while (left > 0) {
          const c = left >= chunk.length ? chunk : chunk.subarray(0, left)
          left -= c.length
          if (!res.write(c)) return void res.once('drain', pump)
        }
        res.end()
      }
      return pump()
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) })
    res.end(page)
  })
  const listener = stack.listenTcp({ port: 80 }, (conn) => web.emit('connection', tcpConnToSocket(conn)))

  const dns = stack.listenUdp({ port: 53 })
  const addrBytes = parseIp(address)!
  dns.onMessage = (data, from) => {
    const q = parseDnsMessage(data)
    if (!q || q.qr || q.questions.length !== 1) return
    const question = q.questions[0]
    const known = question.name.toLowerCase() === DEMO_NAME
    const answers = known && question.type === DnsType.A ? [{ name: question.name, type: DnsType.A, ttl: 60, data: addrBytes }] : []
    const reply = encodeMessage({
      id: q.id,
      qr: true,
      aa: true,
      rd: q.rd,
      ra: true,
      rcode: known ? DnsRcode.NOERROR : DnsRcode.NXDOMAIN,
      questions: [{ name: question.name, type: question.type }],
      answers,
    })
    if (reply) dns.send(reply, from.address, from.port)
  }
  const echo = stack.listenUdp({ port: 7 })
  echo.onMessage = (data, from) => echo.send(data, from.address, from.port)

  return {
    address,
    port: tunnel.port,
    page,
    stack,
    async close() {
      listener.close()
      dns.close()
      echo.close()
      web.close()
      stack.close()
      await tunnel.close()
    },
  }
}
