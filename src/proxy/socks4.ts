// SOCKS4 CONNECT (the "SOCKS: A protocol for TCP proxy across firewalls" memo, NEC/Koblas) and
// the SOCKS4a extension (DSTIP 0.0.0.x, x≠0, followed by a NUL-terminated domain name).
// BIND is answered "rejected". SOCKS4 carries no password, so when the server is configured with
// credentials every SOCKS4 request is rejected (use SOCKS5 with RFC 1929 instead).

import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { readU16, writeU16 } from '../core/bytes.js'
import type { ValueOf } from '../core/enum.js'
import { dialWithTimeout } from './dialer.js'
import { ByteReader, EofError, closeWith, splice } from './stream.js'
import type { SocksContext } from './socks5.js'

export const SOCKS4_VERSION = 0x04

export const Socks4Command = { CONNECT: 0x01, BIND: 0x02 } as const
export type Socks4Command = ValueOf<typeof Socks4Command>

export const Socks4Reply = {
  GRANTED: 90,
  REJECTED: 91,
  NO_IDENTD: 92,
  IDENT_MISMATCH: 93,
} as const
export type Socks4Reply = ValueOf<typeof Socks4Reply>

const MAX_FIELD = 255

function reply(cd: Socks4Reply, port = 0, ip: readonly number[] = [0, 0, 0, 0]): Uint8Array {
  const out = new Uint8Array(8)
  out[1] = cd
  writeU16(out, 2, port)
  out.set(ip, 4)
  return out
}

/** Read a NUL-terminated field of at most MAX_FIELD bytes; null if too long. */
async function readCString(reader: ByteReader): Promise<string | null> {
  const bytes: number[] = []
  for (;;) {
    const [c] = await reader.read(1)
    if (c === 0) return Buffer.from(bytes).toString('latin1')
    if (bytes.length >= MAX_FIELD) return null
    bytes.push(c!)
  }
}

/** Serve one SOCKS4/4a client whose first byte (0x04) is still unread on `sock`. */
export async function handleSocks4(sock: Socket, ctx: SocksContext): Promise<void> {
  const reader = new ByteReader(sock)
  const timer = setTimeout(() => sock.destroy(), ctx.handshakeTimeoutMs)
  const reject = (why: string) => {
    ctx.counters?.inc('socks4.rejected')
    ctx.logger.debug(`socks4 ${sock.remoteAddress}:${sock.remotePort}: ${why}`)
    reader.detach()
    closeWith(sock, reply(Socks4Reply.REJECTED))
  }
  try {
    const head = await reader.read(8)
    const cd = head[1]
    const port = readU16(head, 2)
    const ip = [head[4]!, head[5]!, head[6]!, head[7]!]
    const userid = await readCString(reader)
    if (userid === null) return reject('user id too long')
    let host = ip.join('.')
    if (ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0) {
      const name = await readCString(reader)
      if (name === null || name.length === 0) return reject('bad SOCKS4a domain name')
      host = name
    }
    if (cd !== Socks4Command.CONNECT) return reject(`command ${cd} not supported`)
    if (ctx.auth) return reject('SOCKS4 has no password; credentials are required (use SOCKS5)')
    if (port === 0) return reject('port 0')
    clearTimeout(timer)

    const ac = new AbortController()
    const onGone = () => ac.abort()
    sock.once('close', onGone)
    let up: Duplex
    try {
      up = await dialWithTimeout(ctx.dialer, host, port, ctx.connectTimeoutMs, ac.signal)
    } catch (err) {
      sock.off('close', onGone)
      return reject(`CONNECT ${host}:${port} failed: ${(err as Error).message}`)
    }
    sock.off('close', onGone)
    if (sock.destroyed) {
      up.destroy()
      return
    }
    const rest = reader.detach()
    sock.write(reply(Socks4Reply.GRANTED, port, ip))
    ctx.logger.debug(`socks4 CONNECT ${host}:${port}`)
    if (rest.length) up.write(rest)
    splice(sock, up)
  } catch (err) {
    if (!(err instanceof EofError)) ctx.logger.debug(`socks4 ${sock.remoteAddress}: ${(err as Error).message}`)
    sock.destroy()
  } finally {
    clearTimeout(timer)
  }
}
