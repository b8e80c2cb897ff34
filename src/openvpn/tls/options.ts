// TLS-mode client settings from a parsed .ovpn (openvpn(8) "TLS Mode Options", "Data Channel
// Encryption Options", "Client Options"): validates the TLS directives the generic parser kept
// (src/config/ovpn.ts tlsDirectives / tlsFiles) and resolves defaults the way OpenVPN 2.6 does.
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigError, BurrowError, ErrorCode } from '../../core/errors.js'
import type { OvpnConfig, OvpnDirective, OvpnRemote } from '../../config/ovpn.js'
import type { Cidr } from '../../tunnel/types.js'
import type { TlsCredentials } from './tls-session.js'
import { parseStaticKeyV1, parseTlsCryptV2ClientKey, authDigest, type KeyDirection } from './wrap.js'
import { DATA_CIPHERS, Framing } from './data.js'
import type { ProxySpec } from '../../transport/via-proxy.js'
import { splitUserPass } from '../../config/ovpn-proxy.js'
import { proxySpecFor, proxySpecOf, type OvpnSecrets } from '../credentials.js'

export interface OpenVpnTlsSettings {
  remotes: OvpnRemote[]
  remoteRandom: boolean
  connectRetry: number
  connectRetryMaxDelay: number
  connectRetryMax?: number
  creds: TlsCredentials
  wrap:
    | { mode: 'none' }
    | { mode: 'tls-auth'; key: Uint8Array; direction: KeyDirection; digest: string }
    | { mode: 'tls-crypt'; key: Uint8Array }
    | { mode: 'tls-crypt-v2'; key: Uint8Array; wkc: Uint8Array }
  auth: string
  dataCiphers: string[]
  dataCiphersFallback?: string
  userPass?: { username: string; password: string }
  /** Announce TLS_KEY_EXPORT (TLS-EKM) in IV_PROTO; false forces the legacy PRF. */
  tlsKeyExport: boolean
  framing: Framing
  renegSec: number
  renegBytes: number
  renegPkts: number
  handWindow: number
  tranWindow: number
  ping: number
  pingRestart: number
  tunMtu: number
  routes: Cidr[]
  dns: string[]
  searchDomains: string[]
  routeNopull: boolean
  explicitExitNotify: number
  replayWindow: number
  /** Extra peer-info lines (push-peer-info / setenv UV_*). */
  peerInfoExtra: string[]
  /** http-proxy / socks-proxy for remotes that carry no proxy of their own (remote.proxy wins). */
  proxy?: ProxySpec
}

const DEFAULT_DATA_CIPHERS = ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']

function err(d: OvpnDirective, msg: string): ConfigError {
  return new ConfigError(d.file, d.line, d.name, msg)
}

/**
 * Parse an auth-user-pass file body: username on line 1, password on line 2. A body with only
 * the username gives password undefined (OpenVPN 2.6 then asks for the password).
 */
export function parseUserPass(text: string): { username: string; password?: string } | undefined {
  const up = splitUserPass(text)
  if (!up.username) return undefined
  return up
}

const NO_PROMPT = 'no interactive prompt is available here (stdin is not a terminal)'

/** Settings from a parsed .ovpn; `extra` carries what was typed in (see credentials.ts askSecrets). */
export function tlsSettingsFromOvpn(cfg: OvpnConfig, extra: OvpnSecrets = {}): OpenVpnTlsSettings {
  const files = cfg.tlsFiles
  const creds: TlsCredentials = {}
  const s: OpenVpnTlsSettings = {
    // each remote's proxy with typed-in credentials applied (nothing left to ask)
    remotes: cfg.remotes.map((r) => (r.proxy?.ask ? { ...r, proxy: { ...r.proxy, spec: proxySpecOf(r.proxy, extra)!, ask: undefined } } : r)),
    remoteRandom: cfg.remoteRandom,
    connectRetry: cfg.connectRetry,
    connectRetryMaxDelay: cfg.connectRetryMaxDelay,
    connectRetryMax: cfg.connectRetryMax,
    creds,
    wrap: { mode: 'none' },
    auth: cfg.auth,
    dataCiphers: DEFAULT_DATA_CIPHERS,
    tlsKeyExport: true,
    framing: Framing.NONE,
    renegSec: 3600,
    renegBytes: 0,
    renegPkts: 0,
    handWindow: 60,
    tranWindow: 3600,
    ping: cfg.ping,
    pingRestart: cfg.pingRestart,
    tunMtu: cfg.tunMtu,
    routes: cfg.routes,
    dns: cfg.dns,
    searchDomains: cfg.searchDomains,
    routeNopull: false,
    explicitExitNotify: cfg.explicitExitNotify,
    replayWindow: Math.max(cfg.replayWindow, 64),
    peerInfoExtra: [],
    userPass: extra.userPass,
    proxy: proxySpecFor(cfg, extra),
  }
  if (files.ca?.text) creds.ca = files.ca.text
  if (files.cert?.text) creds.cert = files.cert.text
  if (files.key?.text) creds.key = files.key.text
  if (files['extra-certs']?.text) creds.extraCerts = files['extra-certs'].text
  if (files.pkcs12?.bytes) creds.pkcs12 = files.pkcs12.bytes
  if (extra.askpass !== undefined) creds.passphrase = extra.askpass
  let keyDirection: KeyDirection = cfg.keyDirection
  const num = (d: OvpnDirective, i: number, min: number, max: number): number => {
    const v = d.args[i]
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw err(d, `argument ${i + 1} must be a number in ${min}..${max}`)
    return Number(v)
  }
  for (const d of cfg.tlsDirectives) {
    const a = d.args
    switch (d.name) {
      case 'compress':
        // the parser lets only stubs through: frame, never compress
        s.framing = a[0] === 'stub-v2' ? Framing.STUB_V2 : Framing.STUB_SWAP
        break
      case 'comp-lzo':
        s.framing = Framing.LZO_STUB
        break
      case 'remote-cert-tls':
        if (a[0] !== 'server' && a[0] !== 'client') throw err(d, 'expects "server" or "client"')
        creds.remoteCertTls = a[0]
        break
      case 'verify-x509-name': {
        const type = (a[1] ?? 'subject') as 'subject' | 'name' | 'name-prefix'
        if (!a[0] || !['subject', 'name', 'name-prefix'].includes(type)) throw err(d, 'expects NAME [subject|name|name-prefix]')
        creds.verifyX509Name = { name: a[0], type }
        break
      }
      case 'tls-version-min':
        if (!/^1\.[0-3]$/.test(a[0] ?? '')) throw err(d, 'expects 1.0, 1.1, 1.2 or 1.3')
        creds.tlsVersionMin = a[0]
        break
      case 'tls-version-max':
        if (!/^1\.[0-3]$/.test(a[0] ?? '')) throw err(d, 'expects 1.0, 1.1, 1.2 or 1.3')
        creds.tlsVersionMax = a[0]
        break
      case 'tls-cipher':
        creds.tlsCipher = a[0]
        break
      case 'tls-ciphersuites':
        creds.tlsCiphersuites = a[0]
        break
      case 'data-ciphers':
      case 'ncp-ciphers': {
        const list = (a[0] ?? '').split(':').map((c) => c.trim().toUpperCase()).filter(Boolean)
        const ok = list.filter((c) => c in DATA_CIPHERS)
        if (!ok.length) throw err(d, `none of ${a[0]} is supported (supported: ${Object.keys(DATA_CIPHERS).join(', ')})`)
        s.dataCiphers = ok
        break
      }
      case 'data-ciphers-fallback':
        if (!(a[0]?.toUpperCase() in DATA_CIPHERS)) throw err(d, `unsupported cipher ${a[0]}`)
        s.dataCiphersFallback = a[0].toUpperCase()
        break
      case 'reneg-sec':
        s.renegSec = num(d, 0, 0, 365 * 86400)
        break
      case 'reneg-bytes':
        s.renegBytes = num(d, 0, 0, Number.MAX_SAFE_INTEGER)
        break
      case 'reneg-pkts':
        s.renegPkts = num(d, 0, 0, Number.MAX_SAFE_INTEGER)
        break
      case 'hand-window':
        s.handWindow = num(d, 0, 1, 3600)
        break
      case 'tran-window':
        s.tranWindow = num(d, 0, 1, 86400)
        break
      case 'route-nopull':
        s.routeNopull = true
        break
      case 'askpass':
        if (extra.askpass !== undefined) break
        if (!a[0]) throw err(d, `no passphrase file given and ${NO_PROMPT}; use askpass FILE`)
        try {
          creds.passphrase = readFileSync(isAbsolute(a[0]) ? a[0] : resolve(dirname(cfg.file), a[0]), 'utf8').split(/\r?\n/)[0]
        } catch (e) {
          throw err(d, `cannot read ${a[0]}: ${(e as Error).message}`)
        }
        break
      case 'key-method':
        if (a[0] !== '2') throw err(d, 'only key-method 2 exists in OpenVPN 2.6')
        break
      case 'ns-cert-type':
        throw err(d, 'ns-cert-type was removed in OpenVPN 2.6; use "remote-cert-tls server"')
      case 'verify-hash':
      case 'peer-fingerprint':
      case 'crl-verify':
      case 'tls-verify':
      case 'pkcs11-providers':
      case 'pkcs11-id':
      case 'cryptoapicert':
        throw err(d, 'not supported by this client; refusing to connect with weaker verification than configured')
      case 'auth-user-pass': {
        const blob = files['auth-user-pass']
        if (blob?.text !== undefined && !s.userPass) {
          const up = parseUserPass(blob.text)
          if (!up) throw err(d, 'the file has no username on its first line')
          if (up.password === undefined) throw err(d, `the file holds only the username; the password must be typed in, but ${NO_PROMPT}`)
          s.userPass = { username: up.username, password: up.password }
        } else if (!s.userPass) {
          throw err(d, `no credentials file given and ${NO_PROMPT}; pass auth-user-pass FILE`)
        } else if (!s.userPass.username) throw err(d, 'the username is empty')
        break
      }
      default:
        break
    }
  }
  // control-channel wrapping
  const blobText = (name: string) => files[name]?.text
  const crypt = blobText('tls-crypt')
  const crypt2 = blobText('tls-crypt-v2')
  const tlsAuth = blobText('tls-auth')
  if ([crypt, crypt2, tlsAuth].filter((x) => x !== undefined).length > 1) {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `${cfg.file}: only one of tls-auth, tls-crypt, tls-crypt-v2 may be used`)
  }
  if (crypt !== undefined) s.wrap = { mode: 'tls-crypt', key: parseStaticKeyV1(crypt) }
  else if (crypt2 !== undefined) {
    const k = parseTlsCryptV2ClientKey(crypt2)
    s.wrap = { mode: 'tls-crypt-v2', key: k.key, wkc: k.wkc }
  } else if (tlsAuth !== undefined) {
    const b = files['tls-auth']
    if (b.extra[0] !== undefined) {
      if (b.extra[0] !== '0' && b.extra[0] !== '1') throw new ConfigError(b.file, b.line, 'tls-auth', 'key direction must be 0 or 1')
      keyDirection = Number(b.extra[0]) as 0 | 1
    }
    authDigest(cfg.auth)
    s.wrap = { mode: 'tls-auth', key: parseStaticKeyV1(tlsAuth), direction: keyDirection, digest: cfg.auth }
  }
  if (!creds.ca && !creds.pkcs12) throw new BurrowError(ErrorCode.ERR_CONFIG, `${cfg.file}: TLS mode needs "ca" (or "pkcs12") to verify the server`)
  if (!creds.cert && !creds.pkcs12 && !s.userPass) {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `${cfg.file}: no client authentication: add cert/key, pkcs12 or auth-user-pass`)
  }
  if (cfg.cipher && cfg.cipher in DATA_CIPHERS && !s.dataCiphersFallback && !s.dataCiphers.includes(cfg.cipher)) {
    // OpenVPN 2.6 appends --cipher to data-ciphers for compatibility
    s.dataCiphers = [...s.dataCiphers, cfg.cipher]
  }
  if (s.remotes.length === 0) throw new BurrowError(ErrorCode.ERR_CONFIG, `${cfg.file}: no "remote"`)
  return s
}
