// An undici `connect` function over any dial function: plain TCP for http:, TLS on top of the
// dialed stream for https: (SNI from the request). Used by the in-process dispatcher and the
// HTTP proxy's origin pool.
import tls from 'node:tls'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { buildConnector } from 'undici'

export type DialFn = (host: string, port: number) => Promise<Duplex>

export function unwrapHost(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

export function dialConnector(dial: DialFn): buildConnector.connector {
  return (o: buildConnector.Options, cb: buildConnector.Callback): void => {
    const https = o.protocol === 'https:'
    const port = Number(o.port) || (https ? 443 : 80)
    const host = unwrapHost(o.hostname)
    dial(host, port).then(
      (sock) => {
        if (!https) return cb(null, sock as Socket)
        const t = tls.connect({ socket: sock, servername: o.servername ?? host, ALPNProtocols: ['http/1.1'] })
        const onErr = (e: Error) => cb(e, null)
        t.once('error', onErr)
        t.once('secureConnect', () => {
          t.off('error', onErr)
          cb(null, t)
        })
      },
      (err: Error) => cb(err, null),
    )
  }
}
