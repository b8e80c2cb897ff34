// SOCKS5 server side: RFC 1928 (method negotiation, CONNECT, UDP ASSOCIATE with the §7 UDP
// request header; BIND is answered "command not supported") and RFC 1929 username/password.

import dgram from 'node:dgram'
import net from 'node:net'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { timingSafeEqual } from 'node:crypto'
import { readU16, writeU16 } from '../core/bytes.js'
import type { Counters } from '../core/counters.js'
import type { Logger } from '../core/log.js'
import { ErrorCode } from '../core/errors.js'
import type { ValueOf } from '../core/enum.js'
import { RouteRefusedError, dialWithTimeout, errorCode, normalizeHost } from './dialer.js'
import type { Dialer, UdpFlow } from './dialer.js'
import { ByteReader, EofError, closeWith, splice } from './stream.js'

export const SOCKS5_VERSION = 0x05

export const Socks5Method = { NO_AUTH: 0x00, GSSAPI: 0x01, USERNAME_PASSWORD: 0x02, NO_ACCEPTABLE: 0xff } as const
export type Socks5Method = ValueOf<typeof Socks5Method>

export const Socks5Command = { CONNECT: 0x01, BIND: 0x02, UDP_ASSOCIATE: 0x03 } as const
export type Socks5Command = ValueOf<typeof Socks5Command>

export const Socks5Atyp = { IPV4: 0x01, DOMAINNAME: 0x03, IPV6: 0x04 } as const
export type Socks5Atyp = ValueOf<typeof Socks5Atyp>

export const Socks5Reply = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const
export type Socks5Reply = ValueOf<typeof Socks5Reply>

/** What the SOCKS handlers need from the server. */
export interface SocksContext {
  dialer: Dialer
  auth?: { username: string; password: string }
  logger: Logger
  counters?: Counters
  /** Abort a handshake that has not completed after this long. */
  handshakeTimeoutMs: number
  /** Give up a CONNECT to the destination after this long (reply TTL expired / rejected). */
  connectTimeoutMs: number
}

/** RFC 1928 §6 reply code for a dialer error. */
export function socks5ReplyForError(err: unknown): Socks5Reply {
  if (err instanceof RouteRefusedError) return Socks5Reply.NOT_ALLOWED
  switch (errorCode(err)) {
    case ErrorCode.ECONNREFUSED:
      return Socks5Reply.CONNECTION_REFUSED
    case ErrorCode.ENETUNREACH:
      return Socks5Reply.NETWORK_UNREACHABLE
    case ErrorCode.EHOSTUNREACH:
    case ErrorCode.ENOTFOUND:
    case 'EAI_AGAIN':
    case 'EHOSTDOWN':
      return Socks5Reply.HOST_UNREACHABLE
    case ErrorCode.ETIMEDOUT:
      return Socks5Reply.TTL_EXPIRED
    case ErrorCode.ERR_AUTH:
    case 'EACCES':
    case 'EPERM':
      return Socks5Reply.NOT_ALLOWED
    default:
      return Socks5Reply.GENERAL_FAILURE
  }
}

/** Format 16 bytes as an IPv6 literal (RFC 5952 zero compression). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push(readU16(b, off + 2 * i))
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestAt = i
      bestLen = j - i
    }
    i = j
  }
  const hexs = g.map((x) => x.toString(16))
  if (bestAt < 0) return hexs.join(':')
  return `${hexs.slice(0, bestAt).join(':')}::${hexs.slice(bestAt + bestLen).join(':')}`
}

/** Encode an address as ATYP + ADDR (IP literals as IPv4/IPv6, anything else as a domain name). */
export function encodeAddress(host: string): Uint8Array {
  const h = normalizeHost(host)
  const fam = net.isIP(h)
  if (fam === 4) return Uint8Array.of(Socks5Atyp.IPV4, ...h.split('.').map(Number))
  if (fam === 6) {
    const out = new Uint8Array(17)
    out[0] = Socks5Atyp.IPV6
    const parts = expandIpv6(h.replace(/%.*$/, '')) // a zone id has no place on the wire
    for (let i = 0; i < 8; i++) writeU16(out, 1 + 2 * i, parts[i]!)
    return out
  }
  const name = Buffer.from(h, 'utf8').subarray(0, 255)
  return Uint8Array.of(Socks5Atyp.DOMAINNAME, name.length, ...name)
}

function expandIpv6(a: string): number[] {
  let s = a
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s)
  if (v4) {
    const [p, q, r, t] = v4.slice(1).map(Number) as [number, number, number, number]
    s = s.slice(0, v4.index) + ((p << 8) | q).toString(16) + ':' + ((r << 8) | t).toString(16)
  }
  const [head, tail] = s.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : []
  const fill = tail !== undefined ? new Array<string>(8 - h.length - t.length).fill('0') : []
  return [...h, ...fill, ...t].map((x) => parseInt(x, 16))
}

/** A parsed RFC 1928 §7 UDP request header. */
export interface Socks5UdpHeader {
  frag: number
  host: string
  port: number
  /** Offset of DATA in the datagram. */
  dataOffset: number
}

/** Parse the UDP request header; null when truncated or the ATYP is unknown. */
export function parseSocks5UdpHeader(b: Uint8Array): Socks5UdpHeader | null {
  if (b.length < 4) return null
  const frag = b[2]!
  const atyp = b[3]!
  let host: string
  let off = 4
  if (atyp === Socks5Atyp.IPV4) {
    if (b.length < off + 4 + 2) return null
    host = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`
    off += 4
  } else if (atyp === Socks5Atyp.IPV6) {
    if (b.length < off + 16 + 2) return null
    host = formatIpv6(b, off)
    off += 16
  } else if (atyp === Socks5Atyp.DOMAINNAME) {
    if (b.length < 5) return null
    const n = b[4]!
    if (n === 0 || b.length < 5 + n + 2) return null
    host = Buffer.from(b.buffer, b.byteOffset + 5, n).toString('latin1')
    off = 5 + n
  } else {
    return null
  }
  const port = readU16(b, off)
  return { frag, host, port, dataOffset: off + 2 }
}

/** Build RSV RSV FRAG=0 ATYP ADDR PORT DATA for a datagram arriving from `host:port`. */
export function emitSocks5UdpDatagram(host: string, port: number, data: Uint8Array): Uint8Array {
  const addr = encodeAddress(host)
  const out = new Uint8Array(3 + addr.length + 2 + data.length)
  out.set(addr, 3)
  writeU16(out, 3 + addr.length, port)
  out.set(data, 3 + addr.length + 2)
  return out
}

function reply(rep: number, host = '0.0.0.0', port = 0): Buffer {
  const addr = encodeAddress(host)
  const out = Buffer.alloc(3 + addr.length + 2)
  out[0] = SOCKS5_VERSION
  out[1] = rep
  out.set(addr, 3)
  writeU16(out, 3 + addr.length, port)
  return out
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

class HandshakeError extends Error {}

/** Serve one SOCKS5 client whose first byte (0x05) is still unread on `sock`. */
export async function handleSocks5(sock: Socket, ctx: SocksContext): Promise<void> {
  const reader = new ByteReader(sock)
  const timer = setTimeout(() => {
    ctx.logger.debug(`socks5 ${sock.remoteAddress}: handshake timeout`)
    sock.destroy()
  }, ctx.handshakeTimeoutMs)
  const fail = (msg: string, bytes?: Uint8Array) => {
    ctx.counters?.inc('socks5.bad_handshake')
    ctx.logger.debug(`socks5 ${sock.remoteAddress}:${sock.remotePort}: ${msg}`)
    closeWith(sock, bytes)
    throw new HandshakeError(msg)
  }
  try {
    // Method selection (RFC 1928 §3).
    const [ver, nmethods] = await reader.read(2)
    if (ver !== SOCKS5_VERSION) fail(`bad version ${ver}`)
    if (nmethods === 0) fail('greeting offers no methods', Uint8Array.of(SOCKS5_VERSION, Socks5Method.NO_ACCEPTABLE))
    const methods = await reader.read(nmethods!)
    let method: Socks5Method = Socks5Method.NO_ACCEPTABLE
    if (ctx.auth) {
      if (methods.includes(Socks5Method.USERNAME_PASSWORD)) method = Socks5Method.USERNAME_PASSWORD
    } else if (methods.includes(Socks5Method.NO_AUTH)) method = Socks5Method.NO_AUTH
    // No credentials configured but the client only offers username/password: run RFC 1929 and
    // accept whatever it sends.
    else if (methods.includes(Socks5Method.USERNAME_PASSWORD)) method = Socks5Method.USERNAME_PASSWORD
    if (method === Socks5Method.NO_ACCEPTABLE)
      fail('no acceptable authentication method', Uint8Array.of(SOCKS5_VERSION, Socks5Method.NO_ACCEPTABLE))
    sock.write(Uint8Array.of(SOCKS5_VERSION, method))

    // Username/password sub-negotiation (RFC 1929 §2).
    if (method === Socks5Method.USERNAME_PASSWORD) {
      const [av, ulen] = await reader.read(2)
      if (av !== 0x01) fail(`bad auth version ${av}`, Uint8Array.of(0x01, 0x01))
      const uname = (await reader.read(ulen!)).toString('utf8')
      const [plen] = await reader.read(1)
      const passwd = (await reader.read(plen!)).toString('utf8')
      const ok = !ctx.auth || (safeEqual(uname, ctx.auth.username) && safeEqual(passwd, ctx.auth.password))
      if (!ok) {
        ctx.counters?.inc('socks5.auth_failed')
        fail(`authentication failed for user "${uname}"`, Uint8Array.of(0x01, 0x01))
      }
      sock.write(Uint8Array.of(0x01, 0x00))
    }

    // Request (RFC 1928 §4).
    const [rver, cmd, , atyp] = await reader.read(4)
    if (rver !== SOCKS5_VERSION) fail(`bad request version ${rver}`, reply(Socks5Reply.GENERAL_FAILURE))
    let host: string
    if (atyp === Socks5Atyp.IPV4) {
      const a = await reader.read(4)
      host = `${a[0]}.${a[1]}.${a[2]}.${a[3]}`
    } else if (atyp === Socks5Atyp.IPV6) {
      host = formatIpv6(await reader.read(16))
    } else if (atyp === Socks5Atyp.DOMAINNAME) {
      const [n] = await reader.read(1)
      if (n === 0) fail('empty domain name', reply(Socks5Reply.HOST_UNREACHABLE))
      host = (await reader.read(n!)).toString('latin1')
    } else {
      return fail(`address type ${atyp} not supported`, reply(Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED))
    }
    const port = readU16(await reader.read(2), 0)

    if (cmd === Socks5Command.CONNECT) {
      clearTimeout(timer)
      await connect(sock, reader, host, port, ctx)
    } else if (cmd === Socks5Command.UDP_ASSOCIATE) {
      clearTimeout(timer)
      await associate(sock, reader, port, ctx)
    } else {
      fail(`command ${cmd} not supported`, reply(Socks5Reply.COMMAND_NOT_SUPPORTED))
    }
  } catch (err) {
    if (!(err instanceof HandshakeError)) {
      if (!(err instanceof EofError)) ctx.logger.debug(`socks5 ${sock.remoteAddress}: ${(err as Error).message}`)
      sock.destroy()
    }
  } finally {
    clearTimeout(timer)
  }
}

async function connect(sock: Socket, reader: ByteReader, host: string, port: number, ctx: SocksContext): Promise<void> {
  const dest = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const ac = new AbortController()
  const onGone = () => ac.abort()
  sock.once('close', onGone)
  let up: Duplex
  try {
    up = await dialWithTimeout(ctx.dialer, host, port, ctx.connectTimeoutMs, ac.signal)
  } catch (err) {
    sock.off('close', onGone)
    const rep = socks5ReplyForError(err)
    ctx.logger.debug(`socks5 CONNECT ${dest} failed (reply ${rep}): ${(err as Error).message}`)
    reader.detach()
    closeWith(sock, reply(rep))
    return
  }
  sock.off('close', onGone)
  if (sock.destroyed) {
    up.destroy()
    return
  }
  const rest = reader.detach()
  const local = up as Partial<Socket>
  const bndHost = local.localAddress && net.isIP(normalizeHost(local.localAddress)) ? local.localAddress : '0.0.0.0'
  sock.write(reply(Socks5Reply.SUCCEEDED, bndHost, local.localPort ?? 0))
  ctx.logger.debug(`socks5 CONNECT ${dest}`)
  if (rest.length) up.write(rest)
  splice(sock, up)
}

async function associate(sock: Socket, reader: ByteReader, reqPort: number, ctx: SocksContext): Promise<void> {
  const clientIp = normalizeHost(sock.remoteAddress ?? '')
  let clientPort = reqPort // 0: fixed by the first datagram from clientIp
  const relayIp = normalizeHost(sock.localAddress ?? '127.0.0.1')
  let flow: UdpFlow
  try {
    flow = await ctx.dialer.openUdp()
  } catch (err) {
    reader.detach()
    closeWith(sock, reply(socks5ReplyForError(err)))
    return
  }
  const relay = dgram.createSocket(net.isIPv6(relayIp) ? 'udp6' : 'udp4')
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    flow.close()
    try {
      relay.close()
    } catch {
      // already closed
    }
    sock.destroy()
  }
  relay.on('error', (err) => {
    ctx.logger.debug(`socks5 UDP relay error: ${err.message}`)
    close()
  })
  try {
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject)
      relay.bind(0, relayIp, () => {
        relay.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    if (!closed) {
      closed = true
      flow.close()
      reader.detach()
      closeWith(sock, reply(Socks5Reply.GENERAL_FAILURE))
    }
    ctx.logger.debug(`socks5 UDP relay bind failed: ${(err as Error).message}`)
    return
  }
  if (sock.destroyed) return close()

  relay.on('message', (msg, rinfo) => {
    const src = normalizeHost(rinfo.address)
    if (src !== clientIp || (clientPort !== 0 && rinfo.port !== clientPort)) {
      ctx.counters?.inc('socks5.udp_foreign_source')
      return
    }
    const h = parseSocks5UdpHeader(msg)
    if (!h) {
      ctx.counters?.inc('socks5.udp_malformed')
      return
    }
    if (h.frag !== 0) {
      ctx.counters?.inc('socks5.udp_fragment')
      return
    }
    if (clientPort === 0) clientPort = rinfo.port
    flow.send(msg.subarray(h.dataOffset), h.host, h.port)
  })
  flow.onMessage = (data, from) => {
    if (closed || clientPort === 0) return
    relay.send(emitSocks5UdpDatagram(from.address, from.port, data), clientPort, clientIp, () => {})
  }

  // The association lives as long as the control connection (RFC 1928 §7).
  reader.detach()
  sock.on('data', () => {})
  sock.on('error', () => close())
  sock.on('end', () => close())
  sock.on('close', () => close())
  sock.resume()
  const addr = relay.address()
  sock.write(reply(Socks5Reply.SUCCEEDED, relayIp, addr.port))
  ctx.logger.debug(`socks5 UDP ASSOCIATE ${clientIp}:${reqPort} via relay ${relayIp}:${addr.port}`)
}
