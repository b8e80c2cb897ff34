// .ovpn client configuration (openvpn(8) 2.6: "Client options", "Link options", "Virtual
// network", "Data channel encryption options", "Inline files"). Two stages: ovpn-lexer.ts turns
// text into directives with file:line; this module interprets them into an OvpnConfig. Static-key
// mode (--secret) is interpreted fully; TLS-mode directives are parsed and kept (files read) for
// the TLS-mode tunnel, which validates them itself.

import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigError } from '../core/errors.js'
import type { Cidr } from '../tunnel/types.js'
import { lexOvpn, type OvpnDirective } from './ovpn-lexer.js'
import { FILE_DIRECTIVES, HARMLESS_IGNORED, REJECTED, SECURITY_WORDS, TLS_DIRECTIVES, TLS_MODE_SELECTORS } from './ovpn-directives.js'
import { isIPv4, isIPv6, looksLikeNetmask, maskToPrefix, parseV6Cidr, v4Network } from './ovpn-net.js'
import { parseStaticKeyFile } from './static-key-file.js'
import { resolveProxies, type OvpnProxy } from './ovpn-proxy.js'
import { connectionDirective } from './ovpn-connection.js'

export type { OvpnDirective } from './ovpn-lexer.js'
export type { OvpnProxy } from './ovpn-proxy.js'

export const OvpnMode = { STATIC_KEY: 'static-key', TLS: 'tls' } as const
export type OvpnMode = (typeof OvpnMode)[keyof typeof OvpnMode]

export type OvpnProto = 'udp' | 'tcp'
export type StaticCipher = 'AES-128-CBC' | 'AES-192-CBC' | 'AES-256-CBC'
export type StaticAuth = 'SHA1' | 'SHA256' | 'SHA512'
export const STATIC_CIPHERS: readonly StaticCipher[] = ['AES-128-CBC', 'AES-192-CBC', 'AES-256-CBC']
export const STATIC_AUTHS: readonly StaticAuth[] = ['SHA1', 'SHA256', 'SHA512']

export interface OvpnLocation {
  file: string
  line: number
}

export interface OvpnRemote extends OvpnLocation {
  host: string
  port: number
  proto: OvpnProto
  /** Address family forced by udp4/udp6/tcp4/tcp6. */
  family?: 4 | 6
  /** The proxy this remote is reached through: its <connection> block's own, else the global one. */
  proxy?: OvpnProxy
}

/** A file-valued directive (ca, cert, key, tls-auth, …): inline block or file read from disk. */
export interface OvpnBlob extends OvpnLocation {
  inline: boolean
  /** Absolute path when read from a file. */
  path?: string
  /** Text content (text directives). */
  text?: string
  /** Binary content (pkcs12: base64-decoded when inline). */
  bytes?: Uint8Array
  /** Further arguments after the file (e.g. tls-auth direction). */
  extra: string[]
}

export interface OvpnSecret extends OvpnLocation {
  /** 256 bytes (or 128 for a one-key file, usable only without key direction). */
  key: Uint8Array
  /** 0 or 1, or undefined = bidirectional (key #0 both ways), as OpenVPN's key_direction_state_init. */
  direction: 0 | 1 | undefined
  inline: boolean
  path?: string
}

export interface OvpnIfconfig extends OvpnLocation {
  local: string
  /** Point-to-point peer address (topology p2p/net30). */
  remote?: string
  /** Prefix length of the local address (32 for p2p). */
  prefix: number
  topology: 'p2p' | 'net30' | 'subnet'
}

export interface OvpnConfig {
  file: string
  /** Every directive as written (connection blocks flattened into `connections`). */
  directives: OvpnDirective[]
  /** One line each, already naming file:line. */
  warnings: string[]
  mode: OvpnMode
  remotes: OvpnRemote[]
  remoteRandom: boolean
  /** Seconds between connection attempts, and the cap of its backoff. */
  connectRetry: number
  connectRetryMaxDelay: number
  /** How many times each remote is tried before giving up (undefined = forever). */
  connectRetryMax?: number
  nobind: boolean
  /** Seconds; 0 = off. */
  ping: number
  pingRestart: number
  tunMtu: number
  topology: 'p2p' | 'net30' | 'subnet'
  ifconfig?: OvpnIfconfig
  ifconfigIpv6?: { address: string; prefix: number; remote?: string } & OvpnLocation
  /** Routes through the tunnel (IPv4 and IPv6). */
  routes: Cidr[]
  dns: string[]
  searchDomains: string[]
  /** Upper-case cipher name as written (validated for static-key mode). */
  cipher?: string
  auth: string
  secret?: OvpnSecret
  keyDirection?: 0 | 1
  replayWindow: number
  replayTime: number
  explicitExitNotify: number
  /** TLS-mode directives in order, for the TLS-mode tunnel. */
  tlsDirectives: OvpnDirective[]
  /** TLS-mode file material by directive name (ca, cert, key, pkcs12, tls-auth, tls-crypt, …). */
  tlsFiles: Record<string, OvpnBlob>
  /** http-proxy / socks-proxy: the tunnel's TCP connection goes through this proxy. */
  proxy?: OvpnProxy
}

export interface OvpnParseOptions {
  /** Name used in messages and as the base for relative file references. */
  file?: string
  /** Folder relative file references are resolved against (default: the config file's folder). */
  baseDir?: string
  /** Read a referenced file (default fs.readFileSync). */
  readFile?: (path: string) => Uint8Array
}

const DEFAULT_PORT = 1194

/** Read and interpret an .ovpn file. */
export function loadOvpnFile(path: string, opts: Omit<OvpnParseOptions, 'file'> = {}): OvpnConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(path, 0, 'config', `cannot read config file: ${(e as Error).message}`)
  }
  return parseOvpn(text, { ...opts, file: path })
}

const err = (d: OvpnDirective, msg: string) => new ConfigError(d.file, d.line, d.name, msg)

function intArg(d: OvpnDirective, i: number, min: number, max: number): number {
  const s = d.args[i]
  if (s === undefined || !/^\d+$/.test(s)) throw err(d, `expected a number, got ${s === undefined ? 'nothing' : JSON.stringify(s)}`)
  const n = Number(s)
  if (n < min || n > max) throw err(d, `${n} is out of range ${min}..${max}`)
  return n
}

function argc(d: OvpnDirective, min: number, max: number): void {
  if (d.args.length < min || d.args.length > max) {
    const want = min === max ? `${min}` : `${min}..${max}`
    throw err(d, `expects ${want} argument${max === 1 ? '' : 's'}, got ${d.args.length}`)
  }
}

function parseProto(d: OvpnDirective, s: string): { proto: OvpnProto; family?: 4 | 6 } {
  switch (s.toLowerCase()) {
    case 'udp':
      return { proto: 'udp' }
    case 'udp4':
      return { proto: 'udp', family: 4 }
    case 'udp6':
      return { proto: 'udp', family: 6 }
    case 'tcp':
    case 'tcp-client':
      return { proto: 'tcp' }
    case 'tcp4':
    case 'tcp4-client':
      return { proto: 'tcp', family: 4 }
    case 'tcp6':
    case 'tcp6-client':
      return { proto: 'tcp', family: 6 }
    case 'tcp-server':
    case 'tcp4-server':
    case 'tcp6-server':
      throw err(d, `"${s}" is a server protocol; a client uses tcp-client (or tcp)`)
    default:
      throw err(d, `unknown protocol "${s}" (expected udp, udp4, udp6, tcp, tcp-client, tcp4, tcp6)`)
  }
}

function parseKeyDirection(d: OvpnDirective, s: string): 0 | 1 {
  if (s === '0' || s === 'normal') return 0
  if (s === '1' || s === 'inverse') return 1
  throw err(d, `key direction must be 0 or 1, got ${JSON.stringify(s)}`)
}

interface RemoteDraft extends OvpnLocation {
  host: string
  port?: number
  proto?: { proto: OvpnProto; family?: 4 | 6 }
  /** http-proxy / http-proxy-option / socks-proxy inside this remote's <connection> block. */
  proxyDs?: OvpnDirective[]
}


/** Interpret configuration text. Throws ConfigError naming file, line and directive. */
export function parseOvpn(text: string, opts: OvpnParseOptions = {}): OvpnConfig {
  const file = opts.file ?? '<config>'
  const baseDir = opts.baseDir ?? (opts.file ? dirname(resolve(opts.file)) : process.cwd())
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p))
  const directives = lexOvpn(text, file)

  const cfg: OvpnConfig = {
    file,
    directives,
    warnings: [],
    mode: OvpnMode.STATIC_KEY,
    remotes: [],
    remoteRandom: false,
    connectRetry: 1,
    connectRetryMaxDelay: 300,
    nobind: false,
    ping: 0,
    pingRestart: 0,
    tunMtu: 1500,
    topology: 'net30',
    routes: [],
    dns: [],
    searchDomains: [],
    auth: 'SHA1',
    replayWindow: 64,
    replayTime: 15,
    explicitExitNotify: 0,
    tlsDirectives: [],
    tlsFiles: {},
  }
  const warn = (d: OvpnDirective, msg: string) => cfg.warnings.push(`${d.file}:${d.line}: ${d.name}: ${msg}`)

  const readBlob = (d: OvpnDirective, kind: 'text' | 'binary'): OvpnBlob => {
    if (d.inline) {
      const body = d.args[0]
      if (kind === 'binary') {
        const b64 = body.replace(/\s+/g, '')
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw err(d, 'inline block is not valid base64')
        return { file: d.file, line: d.line, inline: true, bytes: new Uint8Array(Buffer.from(b64, 'base64')), extra: [] }
      }
      return { file: d.file, line: d.line, inline: true, text: body, extra: [] }
    }
    if (d.args.length === 0) {
      if (d.name === 'auth-user-pass') return { file: d.file, line: d.line, inline: false, extra: [] }
      throw err(d, 'expects a file name or an inline block')
    }
    const name = d.args[0]
    if (name === '[inline]' || name === '[[INLINE]]') throw err(d, `refers to an inline block <${d.name}> that is not in this file`)
    const path = isAbsolute(name) ? name : resolve(baseDir, name)
    let bytes: Uint8Array
    try {
      bytes = readFile(path)
    } catch (e) {
      throw err(d, `cannot read ${path}: ${(e as Error).message}`)
    }
    const blob: OvpnBlob = { file: d.file, line: d.line, inline: false, path, extra: d.args.slice(1) }
    if (kind === 'binary') blob.bytes = bytes
    else blob.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
    return blob
  }

  const remotes: RemoteDraft[] = []
  let defPort: number | undefined
  let defProto: { proto: OvpnProto; family?: 4 | 6 } | undefined
  let secretD: OvpnDirective | undefined
  let secretBlob: OvpnBlob | undefined
  let secretDirection: 0 | 1 | undefined
  let keyDirection: 0 | 1 | undefined
  let cipherD: OvpnDirective | undefined
  let authD: OvpnDirective | undefined
  let ifconfigD: OvpnDirective | undefined
  let topologySet = false
  const v4Routes: OvpnDirective[] = []
  const ignoreUnknown = new Set<string>()
  let sawTls = false
  let compressionStub: OvpnDirective | undefined
  const proxyDs: OvpnDirective[] = []

  for (const d of directives) {
    const a = d.args
    if (TLS_DIRECTIVES.has(d.name)) {
      cfg.tlsDirectives.push(d)
      if (TLS_MODE_SELECTORS.has(d.name)) sawTls = true
      const kind = FILE_DIRECTIVES[d.name]
      if (kind) cfg.tlsFiles[d.name] = readBlob(d, kind)
      continue
    }
    if (d.name in REJECTED) {
      if (d.name === 'dev-type' && a[0] === 'tun') continue
      // TLS mode frames (never compresses) with the compression stubs; handed to the TLS settings
      if (isCompressionStub(d)) {
        compressionStub = d
        cfg.tlsDirectives.push(d)
        continue
      }
      throw err(d, REJECTED[d.name])
    }
    switch (d.name) {
      case 'secret': {
        if (!d.inline) argc(d, 1, 2)
        secretD = d
        secretBlob = readBlob(d, 'text')
        if (!d.inline && a[1] !== undefined) secretDirection = parseKeyDirection(d, a[1])
        if (secretDirection !== undefined) keyDirection = secretDirection
        break
      }
      case 'key-direction':
        argc(d, 1, 1)
        keyDirection = parseKeyDirection(d, a[0])
        break
      case 'cipher':
        argc(d, 1, 1)
        cipherD = d
        break
      case 'auth':
        argc(d, 1, 1)
        authD = d
        break
      case 'dev':
        argc(d, 1, 1)
        // Any name is a TUN device when "dev-type tun" says so (openvpn(8) --dev-type).
        if (!/^tun\d*$/.test(a[0]) && !directives.some((x) => x.name === 'dev-type' && x.args[0] === 'tun')) {
          if (/^tap/.test(a[0])) throw err(d, 'TAP (layer 2) devices are not supported; only "dev tun"')
          if (a[0] === 'null') throw err(d, '"dev null" carries no traffic')
          throw err(d, `unsupported device "${a[0]}"; only "dev tun"`)
        }
        break
      case 'proto':
        argc(d, 1, 1)
        defProto = parseProto(d, a[0])
        break
      case 'port':
      case 'rport':
        argc(d, 1, 1)
        defPort = intArg(d, 0, 1, 65535)
        break
      case 'remote': {
        argc(d, 1, 3)
        const r: RemoteDraft = { host: a[0], file: d.file, line: d.line }
        if (a[1] !== undefined) r.port = intArg(d, 1, 1, 65535)
        if (a[2] !== undefined) r.proto = parseProto(d, a[2])
        remotes.push(r)
        break
      }
      case 'connection': {
        const inner = lexOvpn(d.args[0], d.file, d.line + 1)
        const r: RemoteDraft = { host: '', file: d.file, line: d.line }
        for (const x of inner) {
          if (x.name === 'remote') {
            argc(x, 1, 3)
            r.host = x.args[0]
            r.file = x.file
            r.line = x.line
            if (x.args[1] !== undefined) r.port = intArg(x, 1, 1, 65535)
            if (x.args[2] !== undefined) r.proto = parseProto(x, x.args[2])
          } else if (x.name === 'proto') {
            argc(x, 1, 1)
            r.proto = parseProto(x, x.args[0])
          } else if (x.name === 'port' || x.name === 'rport') {
            argc(x, 1, 1)
            r.port = intArg(x, 0, 1, 65535)
          } else if (connectionDirective(x, warn)) (r.proxyDs ??= []).push(x)
        }
        if (!r.host) throw err(d, '<connection> block without a remote')
        remotes.push(r)
        break
      }
      case 'remote-random':
        argc(d, 0, 0)
        cfg.remoteRandom = true
        break
      case 'connect-retry':
        argc(d, 1, 2)
        cfg.connectRetry = intArg(d, 0, 0, 86400)
        if (a[1] !== undefined) cfg.connectRetryMaxDelay = intArg(d, 1, 1, 86400)
        break
      case 'connect-retry-max':
        argc(d, 1, 1)
        cfg.connectRetryMax = intArg(d, 0, 1, 1_000_000)
        break
      case 'nobind':
        argc(d, 0, 0)
        cfg.nobind = true
        break
      case 'topology':
        argc(d, 1, 1)
        if (a[0] !== 'p2p' && a[0] !== 'net30' && a[0] !== 'subnet') throw err(d, `unknown topology "${a[0]}" (p2p, net30, subnet)`)
        cfg.topology = a[0]
        topologySet = true
        break
      case 'ifconfig':
        argc(d, 2, 2)
        ifconfigD = d
        break
      case 'ifconfig-ipv6': {
        argc(d, 1, 2)
        const c = parseV6Cidr(a[0])
        if (!c) throw err(d, `"${a[0]}" is not an IPv6 address/prefix`)
        if (a[1] !== undefined && !isIPv6(a[1])) throw err(d, `"${a[1]}" is not an IPv6 address`)
        cfg.ifconfigIpv6 = { ...c, remote: a[1], file: d.file, line: d.line }
        break
      }
      case 'route':
        argc(d, 1, 4)
        v4Routes.push(d)
        break
      case 'route-ipv6': {
        argc(d, 1, 3)
        const c = parseV6Cidr(a[0])
        if (!c) throw err(d, `"${a[0]}" is not an IPv6 network/prefix`)
        if (a[1] === 'net_gateway') warn(d, 'route via net_gateway stays outside the tunnel; skipped')
        else cfg.routes.push(c)
        break
      }
      case 'redirect-gateway':
        if (a.includes('!ipv4') === false) cfg.routes.push({ address: '0.0.0.0', prefix: 0 })
        if (a.includes('ipv6')) cfg.routes.push({ address: '::', prefix: 0 })
        break
      case 'dhcp-option': {
        argc(d, 1, 2)
        const kind = a[0].toUpperCase()
        if (kind === 'DNS' || kind === 'DNS6') {
          if (!a[1] || !(isIPv4(a[1]) || isIPv6(a[1]))) throw err(d, `${kind} needs an IP address`)
          cfg.dns.push(a[1])
        } else if (kind === 'DOMAIN' || kind === 'DOMAIN-SEARCH' || kind === 'ADAPTER_DOMAIN_SUFFIX') {
          if (!a[1]) throw err(d, `${kind} needs a domain name`)
          cfg.searchDomains.push(a[1])
        } else warn(d, `option ${kind} has no meaning here; ignored`)
        break
      }
      case 'tun-mtu':
        argc(d, 1, 1)
        cfg.tunMtu = intArg(d, 0, 576, 65535)
        break
      case 'ping':
        argc(d, 1, 1)
        cfg.ping = intArg(d, 0, 0, 86400)
        break
      case 'ping-restart':
        argc(d, 1, 1)
        cfg.pingRestart = intArg(d, 0, 0, 86400)
        break
      case 'keepalive':
        argc(d, 2, 2)
        cfg.ping = intArg(d, 0, 1, 86400)
        cfg.pingRestart = intArg(d, 1, 1, 86400)
        if (cfg.pingRestart <= cfg.ping) throw err(d, 'the second argument (restart timeout) must be larger than the first (ping interval)')
        break
      case 'replay-window':
        argc(d, 1, 2)
        cfg.replayWindow = intArg(d, 0, 0, 65536)
        if (a[1] !== undefined) cfg.replayTime = intArg(d, 1, 0, 600)
        break
      case 'explicit-exit-notify':
        argc(d, 0, 1)
        cfg.explicitExitNotify = a[0] === undefined ? 1 : intArg(d, 0, 0, 100)
        break
      case 'http-proxy':
      case 'http-proxy-option':
      case 'http-proxy-user-pass':
      case 'socks-proxy':
        proxyDs.push(d)
        break
      case 'ignore-unknown-option':
        for (const x of a) ignoreUnknown.add(x)
        break
      default:
        if (HARMLESS_IGNORED.has(d.name)) {
          warn(d, 'ignored (no effect for a userspace client)')
          break
        }
        if (ignoreUnknown.has(d.name)) break
        if (SECURITY_WORDS.some((w) => d.name.includes(w))) {
          throw err(d, 'unknown directive that may be security-relevant; refusing to ignore it')
        }
        warn(d, 'unknown directive; ignored')
    }
  }

  // The proxy's own credentials file is read here; the directives are interpreted in ovpn-proxy.ts.
  const readProxyText = (d: OvpnDirective, name?: string): string => {
    if (d.inline) return d.args[0]
    if (name === undefined) {
      if (d.args.length !== 1) throw err(d, 'expects a file name or an inline block')
      name = d.args[0]
    }
    if (name === '[inline]' || name === '[[INLINE]]') throw err(d, `refers to an inline block <${d.name}> that is not in this file`)
    const path = isAbsolute(name) ? name : resolve(baseDir, name)
    try {
      const b = readFile(path)
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
    } catch (e) {
      throw err(d, `cannot read ${path}: ${(e as Error).message}`)
    }
  }
  // Remotes: `port`/`proto` are defaults for remotes that do not name their own.
  const drafts = remotes.map((r) => {
    const p = r.proto ?? defProto ?? { proto: 'udp' as const }
    const remote: OvpnRemote = { host: r.host, port: r.port ?? defPort ?? DEFAULT_PORT, proto: p.proto, family: p.family, file: r.file, line: r.line }
    cfg.remotes.push(remote)
    return { remote, ds: r.proxyDs }
  })
  // Proxies: global, and a <connection> block's own for its remote (ovpn-proxy.ts).
  cfg.proxy = resolveProxies(proxyDs, drafts, readProxyText)

  if (sawTls && secretD) throw err(secretD, 'static key (secret) cannot be combined with TLS-mode directives (client, tls-client, ca, cert, …)')
  cfg.mode = sawTls ? OvpnMode.TLS : OvpnMode.STATIC_KEY
  if (compressionStub && cfg.mode === OvpnMode.STATIC_KEY) throw err(compressionStub, REJECTED[compressionStub.name])
  cfg.keyDirection = keyDirection

  // Crypto parameters.
  if (authD) {
    const name = authD.args[0].toUpperCase().replace(/^SHA-/, 'SHA')
    if (name === 'NONE') throw err(authD, '"auth none" disables packet authentication; refused')
    cfg.auth = name
  }
  if (cipherD) cfg.cipher = cipherD.args[0].toUpperCase()
  if (cfg.mode === OvpnMode.STATIC_KEY) {
    if (!secretD || !secretBlob) {
      throw new ConfigError(file, 1, 'secret', 'no "secret" (static key) and no TLS configuration: OpenVPN would run unencrypted; refused')
    }
    validateStaticCrypto(cfg, secretD, cipherD, authD)
    const firstLine = secretBlob.inline ? secretD.line + 1 : 1
    const keyFile = secretBlob.inline ? secretD.file : (secretBlob.path ?? secretD.file)
    const key = parseStaticKeyFile(secretBlob.text ?? '', keyFile, firstLine, 'secret')
    if (key.length < 256 && keyDirection !== undefined) {
      throw err(secretD, 'the key file holds one key; a key direction needs two (openvpn --genkey secret FILE)')
    }
    cfg.secret = { key, direction: keyDirection, inline: secretBlob.inline, path: secretBlob.path, file: secretD.file, line: secretD.line }
  }

  // Tunnel addresses and routes.
  if (ifconfigD) {
    const [local, second] = ifconfigD.args
    if (!isIPv4(local)) throw err(ifconfigD, `"${local}" is not an IPv4 address`)
    if (!isIPv4(second)) throw err(ifconfigD, `"${second}" is not an IPv4 address or netmask`)
    let topo = cfg.topology
    if (topo !== 'subnet' && looksLikeNetmask(second)) {
      if (!topologySet) {
        warn(ifconfigD, `second argument ${second} looks like a netmask: treating it as "topology subnet"`)
        topo = 'subnet'
      } else throw err(ifconfigD, `with topology ${topo} the second argument must be the peer address, not a netmask (${second})`)
    }
    if (topo === 'subnet') {
      const prefix = maskToPrefix(second)
      if (prefix === null) throw err(ifconfigD, `"${second}" is not a contiguous netmask`)
      cfg.ifconfig = { local, prefix, topology: 'subnet', file: ifconfigD.file, line: ifconfigD.line }
      cfg.routes.unshift({ address: v4Network(local, prefix), prefix })
    } else {
      if (second === local) throw err(ifconfigD, 'local and remote addresses must differ')
      cfg.ifconfig = { local, remote: second, prefix: 32, topology: topo, file: ifconfigD.file, line: ifconfigD.line }
      cfg.routes.unshift({ address: second, prefix: 32 })
    }
  }
  for (const d of v4Routes) {
    const [net, mask = '255.255.255.255', gw] = d.args
    if (gw === 'net_gateway') {
      warn(d, 'route via net_gateway stays outside the tunnel; skipped')
      continue
    }
    if (!isIPv4(net)) throw err(d, `"${net}" is not an IPv4 network (host names are not resolved in routes)`)
    const prefix = maskToPrefix(mask === 'default' ? '255.255.255.255' : mask)
    if (prefix === null) throw err(d, `"${mask}" is not a contiguous netmask`)
    const netAddr = v4Network(net, prefix)
    if (netAddr !== net) warn(d, `${net} has host bits set for mask ${mask}; using ${netAddr}`)
    cfg.routes.push({ address: netAddr, prefix })
  }
  return cfg
}

function validateStaticCrypto(cfg: OvpnConfig, secretD: OvpnDirective, cipherD?: OvpnDirective, authD?: OvpnDirective): void {
  if (!cipherD) {
    throw err(
      secretD,
      'static-key mode needs an explicit "cipher": the default BF-CBC is not available with OpenVPN 2.6 + OpenSSL 3. ' +
        'Add "cipher AES-256-CBC" (and the same on the server)',
    )
  }
  const c = cfg.cipher!
  if (c === 'NONE') throw err(cipherD, '"cipher none" disables encryption; refused')
  if (c === 'BF-CBC') throw err(cipherD, 'BF-CBC is not available with OpenVPN 2.6 + OpenSSL 3; use AES-256-CBC (and the same on the server)')
  if (/GCM|CHACHA20-POLY1305/.test(c)) throw err(cipherD, `${c} is an AEAD cipher; OpenVPN refuses AEAD ciphers in static-key mode (use AES-256-CBC)`)
  if (!(STATIC_CIPHERS as readonly string[]).includes(c)) {
    throw err(cipherD, `cipher ${c} is not supported in static-key mode (supported: ${STATIC_CIPHERS.join(', ')})`)
  }
  if (!(STATIC_AUTHS as readonly string[]).includes(cfg.auth)) {
    throw err(authD ?? secretD, `auth ${cfg.auth} is not supported (supported: ${STATIC_AUTHS.join(', ')})`)
  }
}

/**
 * Compression framing without compression: `compress` (no algorithm), `compress stub`,
 * `compress stub-v2`, `comp-lzo no`. Real algorithms stay refused (VORACLE).
 */
function isCompressionStub(d: OvpnDirective): boolean {
  if (d.name === 'compress') return d.args.length === 0 || d.args[0] === 'stub' || d.args[0] === 'stub-v2'
  if (d.name === 'comp-lzo') return d.args[0] === 'no'
  return false
}
