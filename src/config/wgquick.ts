// wg-quick(8) configuration files: the wg(8) CONFIGURATION FILE FORMAT ([Interface] PrivateKey,
// ListenPort, FwMark; [Peer] PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive)
// plus wg-quick's additions (Address, DNS, MTU, Table, PreUp/PostUp/PreDown/PostDown, SaveConfig).
//
// Why a line scanner in front of `ini`: ini.decode() merges repeated sections into one object
// (every [Peer] would collapse into a single peer) and keeps no line numbers, so errors could not
// name file:line. We therefore scan lines ourselves for section headers and `Key = Value` pairs
// (keeping line numbers, repeated [Peer] sections and repeated keys such as AllowedIPs), and
// use ini's value decoder (ini.unsafe: trims, strips inline `;`/`#` comments and surrounding
// quotes) for each value, so value syntax matches what `ini` users expect.
import { readFile } from 'node:fs/promises'
import ini from 'ini'
import { ConfigError } from '../core/errors.js'
import { silentLogger, type Logger } from '../core/log.js'
import type { Cidr } from '../tunnel/types.js'
import { parseCidr, parseIp } from '../netstack/addr.js'

export interface WgInterfaceConfig {
  privateKey: Uint8Array
  /** Address = lines (several, IPv4/IPv6, with prefix; a bare address gets a host prefix). */
  addresses: Cidr[]
  /** DNS = entries that are IP addresses. */
  dns: string[]
  /** DNS = entries that are not IP addresses (wg-quick treats them as search domains). */
  searchDomains: string[]
  mtu?: number
  listenPort?: number
}

export interface WgPeerConfig {
  publicKey: Uint8Array
  presharedKey?: Uint8Array
  /** host is an IP literal (IPv6 without brackets) or a hostname to resolve. */
  endpoint?: { host: string; port: number }
  allowedIps: Cidr[]
  /** Seconds; undefined = off. */
  persistentKeepalive?: number
  /** Line of the [Peer] header, for messages. */
  line: number
}

export interface WgConfig {
  file: string
  interface: WgInterfaceConfig
  peers: WgPeerConfig[]
}

/** wg-quick keys that only make sense for a kernel interface: warned about and ignored. */
const IGNORED_INTERFACE_KEYS = new Set(['postup', 'postdown', 'preup', 'predown', 'table', 'saveconfig', 'fwmark'])

/** Decode `wg`'s base64 key text: standard base64 of exactly 32 bytes. */
export function parseWgKey(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(text)) return null
  const b = Buffer.from(text, 'base64')
  return b.length === 32 ? new Uint8Array(b) : null
}

/** "host:port", "1.2.3.4:port", "[v6]:port" → { host, port } or null. */
export function parseEndpoint(text: string): { host: string; port: number } | null {
  let host: string
  let portText: string
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0 || text[close + 1] !== ':') return null
    host = text.slice(1, close)
    portText = text.slice(close + 2)
    const ip = parseIp(host.split('%')[0])
    if (!ip || ip.length !== 16) return null
  } else {
    const colon = text.lastIndexOf(':')
    if (colon <= 0) return null
    host = text.slice(0, colon)
    portText = text.slice(colon + 1)
    if (host.includes(':')) return null // IPv6 needs brackets
    if (/^[0-9.]+$/.test(host)) {
      if (!parseIp(host)) return null
    } else if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(host) || host.includes('..')) return null
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null
  const port = Number(portText)
  if (port < 1 || port > 65535) return null
  return { host, port }
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

interface Line {
  line: number
  key: string
  value: string
}
interface Section {
  name: 'interface' | 'peer'
  line: number
  entries: Line[]
}

/** Split into sections with line numbers (see the module comment for why this is not ini.decode). */
function scan(text: string, file: string): Section[] {
  const sections: Section[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1
    const raw = lines[i]
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue
    if (trimmed.startsWith('[')) {
      const m = /^\[\s*([A-Za-z]+)\s*\]\s*(?:[#;].*)?$/.exec(trimmed)
      const name = m?.[1].toLowerCase()
      if (name !== 'interface' && name !== 'peer') throw new ConfigError(file, n, trimmed, 'unknown section (expected [Interface] or [Peer])')
      sections.push({ name, line: n, entries: [] })
      continue
    }
    const eq = trimmed.indexOf('=')
    if (eq <= 0) throw new ConfigError(file, n, trimmed.slice(0, 40), 'expected "Key = Value"')
    const key = trimmed.slice(0, eq).trim()
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key)) throw new ConfigError(file, n, key, 'malformed key')
    const cur = sections[sections.length - 1]
    if (!cur) throw new ConfigError(file, n, key, 'key outside of any [Interface] or [Peer] section')
    cur.entries.push({ line: n, key, value: ini.unsafe(trimmed.slice(eq + 1)) })
  }
  return sections
}

function parseInt10(v: string, min: number, max: number): number | null {
  if (!/^[0-9]+$/.test(v)) return null
  const n = Number(v)
  return n >= min && n <= max ? n : null
}

function parseCidrList(v: string, file: string, e: Line): Cidr[] {
  const out: Cidr[] = []
  for (const item of splitList(v)) {
    const c = parseCidr(item)
    if (!c) throw new ConfigError(file, e.line, e.key, `invalid address or prefix "${item}"`)
    out.push(c)
  }
  return out
}

function key32(v: string, file: string, e: Line): Uint8Array {
  const k = parseWgKey(v)
  if (!k) throw new ConfigError(file, e.line, e.key, 'invalid key: expected base64 of 32 bytes (as printed by `wg genkey`)')
  return k
}

/** Parse a wg-quick file. Throws ConfigError naming file:line and key; warns about ignored keys. */
export function parseWgQuick(text: string, file = '<wg-quick>', logger: Logger = silentLogger): WgConfig {
  const sections = scan(text, file)
  let iface: WgInterfaceConfig | undefined
  let ifaceLine = 0
  const peers: WgPeerConfig[] = []
  const warnOnce = (e: Line, msg: string) => logger.warn(`${file}:${e.line}: ${e.key}: ${msg}`)
  for (const s of sections) {
    const seen = new Map<string, number>()
    const single = (e: Line): void => {
      const k = e.key.toLowerCase()
      const prev = seen.get(k)
      if (prev !== undefined) throw new ConfigError(file, e.line, e.key, `given twice in this section (first on line ${prev})`)
      seen.set(k, e.line)
    }
    if (s.name === 'interface') {
      if (iface) throw new ConfigError(file, s.line, '[Interface]', `second [Interface] section (first on line ${ifaceLine})`)
      ifaceLine = s.line
      let privateKey: Uint8Array | undefined
      const cfg: Omit<WgInterfaceConfig, 'privateKey'> = { addresses: [], dns: [], searchDomains: [] }
      for (const e of s.entries) {
        const k = e.key.toLowerCase()
        switch (k) {
          case 'privatekey':
            single(e)
            privateKey = key32(e.value, file, e)
            break
          case 'address':
            cfg.addresses.push(...parseCidrList(e.value, file, e))
            break
          case 'dns':
            for (const item of splitList(e.value)) {
              if (parseIp(item)) cfg.dns.push(item)
              else if (/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/.test(item)) cfg.searchDomains.push(item)
              else throw new ConfigError(file, e.line, e.key, `"${item}" is neither an address nor a search domain`)
            }
            break
          case 'mtu': {
            single(e)
            const n = parseInt10(e.value, 576, 65535)
            if (n === null) throw new ConfigError(file, e.line, e.key, `invalid MTU "${e.value}" (576–65535)`)
            cfg.mtu = n
            break
          }
          case 'listenport': {
            single(e)
            const n = parseInt10(e.value, 0, 65535)
            if (n === null) throw new ConfigError(file, e.line, e.key, `invalid port "${e.value}"`)
            cfg.listenPort = n
            break
          }
          default:
            if (IGNORED_INTERFACE_KEYS.has(k)) warnOnce(e, 'applies only to a kernel interface (wg-quick); ignored')
            else throw new ConfigError(file, e.line, e.key, 'unknown key in [Interface]')
        }
      }
      if (!privateKey) throw new ConfigError(file, s.line, 'PrivateKey', '[Interface] has no PrivateKey')
      iface = { privateKey, ...cfg }
    } else {
      let publicKey: Uint8Array | undefined
      const peer: Omit<WgPeerConfig, 'publicKey'> = { allowedIps: [], line: s.line }
      for (const e of s.entries) {
        switch (e.key.toLowerCase()) {
          case 'publickey':
            single(e)
            publicKey = key32(e.value, file, e)
            break
          case 'presharedkey':
            single(e)
            peer.presharedKey = key32(e.value, file, e)
            break
          case 'endpoint': {
            single(e)
            const ep = parseEndpoint(e.value)
            if (!ep) throw new ConfigError(file, e.line, e.key, `invalid endpoint "${e.value}" (host:port, a.b.c.d:port or [v6]:port)`)
            peer.endpoint = ep
            break
          }
          case 'allowedips':
            peer.allowedIps.push(...parseCidrList(e.value, file, e))
            break
          case 'persistentkeepalive': {
            single(e)
            if (e.value.toLowerCase() === 'off') break
            const n = parseInt10(e.value, 0, 65535)
            if (n === null) throw new ConfigError(file, e.line, e.key, `invalid interval "${e.value}" (seconds, 0–65535 or off)`)
            if (n > 0) peer.persistentKeepalive = n
            break
          }
          default:
            throw new ConfigError(file, e.line, e.key, 'unknown key in [Peer]')
        }
      }
      if (!publicKey) throw new ConfigError(file, s.line, 'PublicKey', '[Peer] has no PublicKey')
      const hexKey = Buffer.from(publicKey).toString('hex')
      const dup = peers.find((p) => Buffer.from(p.publicKey).toString('hex') === hexKey)
      if (dup) throw new ConfigError(file, s.line, 'PublicKey', `same peer as the [Peer] on line ${dup.line}`)
      peers.push({ publicKey, ...peer })
    }
  }
  if (!iface) throw new ConfigError(file, 1, '[Interface]', 'no [Interface] section')
  return { file, interface: iface, peers }
}

export async function loadWgQuick(path: string, logger?: Logger): Promise<WgConfig> {
  return parseWgQuick(await readFile(path, 'utf8'), path, logger)
}
