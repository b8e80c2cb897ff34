// Parsing of --expose and --forward specifications.
//   --expose  [tcp|udp://]TUNNELPORT=HOST:PORT         (tunnel port → local service)
//   --forward [tcp|udp://][LOCALHOST:]PORT=REMOTE:PORT  (local port → host behind the tunnel)
import { isIP } from 'node:net'

export interface HostPort {
  host: string
  port: number
}
export interface ExposeSpec {
  proto: 'tcp' | 'udp'
  tunnelPort: number
  target: HostPort
}
export interface ForwardSpec {
  proto: 'tcp' | 'udp'
  local: HostPort
  remote: HostPort
}

function splitProto(flag: string, s: string): ['tcp' | 'udp', string] {
  const m = /^(tcp|udp):\/\/(.*)$/i.exec(s)
  if (m) return [m[1].toLowerCase() as 'tcp' | 'udp', m[2]]
  if (/^[a-z]+:\/\//i.test(s)) throw new Error(`--${flag} ${s}: only tcp:// and udp:// are supported`)
  return ['tcp', s]
}

function parsePort(flag: string, whole: string, p: string, allowZero = false): number {
  if (!/^\d+$/.test(p)) throw new Error(`--${flag} ${whole}: "${p}" is not a port number`)
  const n = Number(p)
  if ((n === 0 && !allowZero) || n < 0 || n > 65535) throw new Error(`--${flag} ${whole}: port ${n} out of range`)
  return n
}

export function parseHostPort(flag: string, whole: string, s: string, defaultHost?: string, allowZero = false): HostPort {
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(s)
  if (m6) {
    if (isIP(m6[1]) !== 6) throw new Error(`--${flag} ${whole}: "${m6[1]}" is not an IPv6 address`)
    return { host: m6[1], port: parsePort(flag, whole, m6[2], allowZero) }
  }
  const i = s.lastIndexOf(':')
  if (i < 0) {
    if (defaultHost === undefined) throw new Error(`--${flag} ${whole}: expected HOST:PORT, got "${s}"`)
    return { host: defaultHost, port: parsePort(flag, whole, s, allowZero) }
  }
  const host = s.slice(0, i)
  if (!host || host.includes(':')) throw new Error(`--${flag} ${whole}: bad host in "${s}" (bracket IPv6 addresses)`)
  return { host, port: parsePort(flag, whole, s.slice(i + 1), allowZero) }
}

export function parseExposeSpec(s: string): ExposeSpec {
  const [proto, rest] = splitProto('expose', s)
  const eq = rest.indexOf('=')
  if (eq < 0) throw new Error(`--expose ${s}: expected TUNNELPORT=HOST:PORT`)
  return {
    proto,
    tunnelPort: parsePort('expose', s, rest.slice(0, eq)),
    target: parseHostPort('expose', s, rest.slice(eq + 1), '127.0.0.1'),
  }
}

export function parseForwardSpec(s: string): ForwardSpec {
  const [proto, rest] = splitProto('forward', s)
  const eq = rest.indexOf('=')
  if (eq < 0) throw new Error(`--forward ${s}: expected [LOCALHOST:]PORT=REMOTE:PORT`)
  return {
    proto,
    // local port 0 = any free port (printed in the status line)
    local: parseHostPort('forward', s, rest.slice(0, eq), '127.0.0.1', true),
    remote: parseHostPort('forward', s, rest.slice(eq + 1)),
  }
}
