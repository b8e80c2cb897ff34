// Parsing of listener flags (--http, --socks): "HOST:PORT", "PORT", "[v6]:PORT" or "off".
import { isIP } from 'node:net'

export interface ListenSpec {
  host: string
  port: number
}

export function parseListenSpec(flag: string, value: string): ListenSpec | null {
  const v = value.trim()
  if (v === 'off' || v === 'none' || v === 'false') return null
  let host = '127.0.0.1'
  let portStr = v
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(v)
  if (m6) {
    host = m6[1]
    portStr = m6[2]
  } else if (v.includes(':')) {
    const i = v.lastIndexOf(':')
    host = v.slice(0, i)
    portStr = v.slice(i + 1)
  }
  if (!/^\d+$/.test(portStr)) throw new Error(`--${flag} ${value}: expected HOST:PORT, PORT or off`)
  const port = Number(portStr)
  if (port > 65535) throw new Error(`--${flag} ${value}: port out of range`)
  if (host === 'localhost') host = '127.0.0.1'
  if (!isIP(host)) throw new Error(`--${flag} ${value}: "${host}" is not an IP address`)
  return { host, port }
}

export function isLoopback(host: string): boolean {
  return host === '::1' || /^127\./.test(host)
}
