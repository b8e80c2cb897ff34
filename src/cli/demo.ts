// `burrow-proxy demo`: the README's first command. Starts an in-process OpenVPN static-key server
// on loopback (fixtures/static.key), connects to it like any user config, brings up the proxies,
// fetches the page behind the tunnel through both proxies and prints commands to try.
// Needs no VPN server, no root and no network.
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { Logger } from '../core/log.js'
import { loadOvpnFile } from '../config/ovpn.js'
import { createOpenVpnTunnel } from '../openvpn/tunnel.js'
import type { CliOptions } from './options.js'
import { startSession, type Session } from './session.js'
import { DEMO_NAME, startDemoServer, type DemoServer } from './demo-server.js'

export const DEMO_CONFIG = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'static-client.ovpn')

export interface Demo {
  server: DemoServer
  session: Session
  close(): Promise<void>
}

/** Start both ends. Busy default proxy ports fall back to free ones. */
export async function startDemo(o: CliOptions, log: Logger, status: (l: string) => void): Promise<Demo> {
  const cfg = loadOvpnFile(DEMO_CONFIG)
  const server = await startDemoServer(cfg)
  status(`demo VPN server (OpenVPN static key, ${cfg.cipher}/${cfg.auth}) listening on 127.0.0.1:${server.port}, serving http://${server.address}/ and ${DEMO_NAME}`)
  cfg.remotes = cfg.remotes.slice(0, 1).map((r) => ({ ...r, host: '127.0.0.1', port: server.port }))
  const withFree = async (spec: CliOptions['http']) => (spec && !(await portFree(spec.host, spec.port)) ? { ...spec, port: 0 } : spec)
  const opts = { ...o, http: await withFree(o.http), socks: await withFree(o.socks), dns: o.dns.length ? o.dns : [server.address] }
  let session: Session
  try {
    session = await startSession(opts, createOpenVpnTunnel(cfg, { logger: log }), log, status)
  } catch (e) {
    await server.close()
    throw e
  }
  return {
    server,
    session,
    async close() {
      await session.close()
      await server.close()
    },
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, host, () => s.close(() => resolve(true)))
  })
}

/** GET an absolute URL through an HTTP proxy. */
export function getViaHttpProxy(proxy: { host: string; port: number }, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.host, port: proxy.port, method: 'GET', path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end()
  })
}

/** GET http://host/ through a SOCKS5 proxy with the name resolved by the proxy (socks5h). */
export function getViaSocks5(proxy: { host: string; port: number }, host: string, port = 80): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxy.port, proxy.host)
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')))
    let stage = 0
    let buf = Buffer.alloc(0)
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])))
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (stage === 0 && buf.length >= 2) {
        if (buf[0] !== 5 || buf[1] !== 0) return s.destroy(new Error('SOCKS5 method refused'))
        buf = buf.subarray(2)
        stage = 1
        const name = Buffer.from(host)
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 255])]))
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return s.destroy(new Error(`SOCKS5 CONNECT failed with reply ${buf[1]}`))
        const alen = buf[3] === 1 ? 4 : buf[3] === 4 ? 16 : 1 + buf[4]
        buf = buf.subarray(6 + alen)
        stage = 2
        s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      }
    })
    s.on('end', () => {
      const text = buf.toString('utf8')
      const i = text.indexOf('\r\n\r\n')
      if (stage !== 2 || i < 0) return reject(new Error('SOCKS5: no HTTP response'))
      resolve(text.slice(i + 4))
    })
    s.on('error', reject)
  })
}

/** Runs the self-check; returns the lines to print for the user. */
export async function demoSelfCheck(d: Demo): Promise<string[]> {
  const lines: string[] = []
  const url = `http://${d.server.address}/`
  const { http: hp, socks: sp } = d.session
  if (hp) {
    const r = await getViaHttpProxy(hp, url)
    if (r.status !== 200 || r.body !== d.server.page) throw new Error(`demo: HTTP proxy fetch of ${url} returned ${r.status}`)
    lines.push(`ok: fetched ${url} through the HTTP proxy (${r.body.length} bytes)`)
  }
  if (sp) {
    const body = await getViaSocks5(sp, DEMO_NAME)
    if (body !== d.server.page) throw new Error(`demo: SOCKS5 fetch of http://${DEMO_NAME}/ returned a different page`)
    lines.push(`ok: fetched http://${DEMO_NAME}/ through SOCKS5, name resolved by the tunnel's DNS`)
  }
  lines.push('', 'Try it yourself:')
  if (hp) {
    lines.push(`  curl -x http://${hp.host}:${hp.port} ${url}`)
    lines.push(`  curl -x http://${hp.host}:${hp.port} -o /dev/null -w '%{speed_download} B/s\\n' '${url}bytes?n=104857600'`)
  }
  if (sp) lines.push(`  curl --socks5-hostname ${sp.host}:${sp.port} http://${DEMO_NAME}/`)
  return lines
}
