// Test scaffolding for the OpenVPN TLS-mode end-to-end tests and benchmark: a throwaway PKI
// (openssl + `openvpn --genkey`, independent of the code under test), real `openvpn` 2.6 servers
// in the vpn namespace of a vpn-lan topology (test/harness/vpn-lan.ts) configured per variant
// (tls-crypt / tls-auth SHA1|SHA256 / tls-crypt-v2, data cipher, TLS 1.2 cap, auth-user-pass-verify),
// and the client .ovpn written the way a server admin exports it (inline <ca>, <cert>, <key> and
// the control-channel key block). Several servers can run side by side: each takes a "slot", a /28
// of env.tunnel (the lan already routes the whole /24 back via the vpn namespace) and its own port.
// Never used by the product.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeOvpnPki, type OvpnPki } from './ovpn-tls-server.js'
import { run, startProc, uniqueId, type Proc } from './netns.js'
import { createVpnLan, type VpnLan } from './vpn-lan.js'
import { cliPath, cliSession, type CliSession } from './wg-server.js'

export interface TlsPki extends OvpnPki {
  /** tls-crypt-v2 client key block (contains the wrapped client key), for <tls-crypt-v2>. */
  v2Client: string
  /** A via-file auth-user-pass-verify script accepting exactly USER / PASS below. */
  verifyScript: string
  user: string
  pass: string
}

/** makeOvpnPki plus tls-crypt-v2 server/client keys and a password-checking script. */
export function makeTlsPki(dir: string, cnPrefix = 'bpx'): TlsPki {
  const base = makeOvpnPki(dir, cnPrefix)
  const f = (n: string) => join(dir, n)
  run('openvpn', ['--genkey', 'tls-crypt-v2-server', f('v2srv.key')])
  run('openvpn', ['--tls-crypt-v2', f('v2srv.key'), '--genkey', 'tls-crypt-v2-client', f('v2cli.key')])
  const user = 'alice'
  const pass = 'c0rrect horse'
  // via-file: $1 is a file with the username on line 1 and the password on line 2
  writeFileSync(f('verify.sh'), `#!/bin/sh\n[ "$(sed -n 1p "$1")" = "${user}" ] && [ "$(sed -n 2p "$1")" = "${pass}" ]\n`)
  chmodSync(f('verify.sh'), 0o755)
  return { ...base, v2Client: readFileSync(f('v2cli.key'), 'utf8'), verifyScript: f('verify.sh'), user, pass }
}

/**
 * The usual start of a TLS interop file: the CLI must be built (throws early with "run npm run
 * build" otherwise), then a vpn-lan topology and a PKI in its tmp folder.
 */
export async function createTlsLan(prefix: string): Promise<{ env: VpnLan; pki: TlsPki }> {
  cliPath()
  const env = await createVpnLan({ prefix })
  const dir = join(env.tmp, 'pki')
  mkdirSync(dir)
  return { env, pki: makeTlsPki(dir, prefix) }
}

export type Wrap = 'tls-crypt' | 'tls-auth-sha256' | 'tls-auth-sha1' | 'tls-crypt-v2'

export interface TlsVariant {
  name: string
  proto: 'udp' | 'tcp'
  wrap: Wrap
  /** The server's --data-ciphers (the client offers its defaults; the server picks). */
  cipher?: 'AES-256-GCM' | 'AES-128-GCM' | 'CHACHA20-POLY1305'
  /** Server capped at TLS 1.2 (--tls-version-max 1.2). */
  tls12?: boolean
  /** Server checks username/password with an auth-user-pass-verify script. */
  userPass?: boolean
}

export interface TlsServer {
  readonly proc: Proc
  port: number
  proto: 'udp' | 'tcp'
  /** The server's address in its tunnel /28 and the /28 itself. */
  tunIp: string
  tunnelCidr: string
  /** Kill (SIGKILL by default) and start a new process on the same port and slot, with `extra` replacing the extra args. */
  restart(o?: { signal?: NodeJS.Signals; extra?: string[] }): Promise<void>
  stop(): Promise<void>
}

export interface TlsServerOptions {
  env: VpnLan
  pki: TlsPki
  variant: TlsVariant
  /** 0..15: which /28 of env.tunnel this server hands out. */
  slot: number
  port: number
  /** Interface-name prefix (3 letters). */
  prefix: string
  /** More server arguments (e.g. --reneg-sec 10, --keepalive 1 4, extra --push). */
  extra?: string[]
}

function wrapServerArgs(pki: TlsPki, wrap: Wrap): string[] {
  const f = (n: string) => join(pki.dir, n)
  switch (wrap) {
    case 'tls-crypt':
      return ['--tls-crypt', f('ta.key')]
    case 'tls-crypt-v2':
      return ['--tls-crypt-v2', f('v2srv.key')]
    case 'tls-auth-sha256':
      return ['--tls-auth', f('ta.key'), '0', '--auth', 'SHA256']
    case 'tls-auth-sha1':
      return ['--tls-auth', f('ta.key'), '0'] // --auth defaults to SHA1
  }
}

/** The server arguments for a variant (exported for the benchmark, which runs the same server). */
export function tlsServerArgs(o: TlsServerOptions, dev: string): string[] {
  const { env, pki, variant: v } = o
  const f = (n: string) => join(pki.dir, n)
  const net = env.tunnel.v4(16 * o.slot)
  return [
    '--dev', dev, '--dev-type', 'tun', '--disable-dco', '--proto', v.proto === 'udp' ? 'udp' : 'tcp-server',
    '--local', env.serverIp, '--port', String(o.port),
    '--server', net, '255.255.255.240', '--topology', 'subnet',
    '--ca', f('ca.crt'), '--cert', f('server.crt'), '--key', f('server.key'), '--dh', 'none',
    ...wrapServerArgs(pki, v.wrap),
    ...(v.cipher ? ['--data-ciphers', v.cipher] : []),
    ...(v.tls12 ? ['--tls-version-max', '1.2'] : []),
    ...(v.userPass ? ['--script-security', '2', '--auth-user-pass-verify', pki.verifyScript, 'via-file', '--tmp-dir', pki.dir] : []),
    // one certificate for every client: a bench's burrow and native clients, a restarted CLI
    '--duplicate-cn',
    '--keepalive', '10', '60', '--verb', '3',
    '--push', `route ${env.lan4.network} ${env.lan4.mask}`, '--push', `dhcp-option DNS ${env.lanIp}`,
    ...(o.extra ?? []),
  ]
}

export async function startTlsServer(o: TlsServerOptions): Promise<TlsServer> {
  if (o.slot < 0 || o.slot > 15) throw new Error(`slot ${o.slot} out of 0..15`)
  const dev = `${o.prefix}s${uniqueId()}`.slice(0, 15)
  let extra = o.extra
  const launch = async (): Promise<Proc> => {
    const p = o.env.vpn.spawn('openvpn', tlsServerArgs({ ...o, extra }, dev))
    await p.waitFor(/Initialization Sequence Completed/, 15_000)
    return p
  }
  let proc = await launch()
  let stopped = false
  return {
    get proc() {
      return proc
    },
    port: o.port,
    proto: o.variant.proto,
    tunIp: o.env.tunnel.v4(16 * o.slot + 1),
    tunnelCidr: `${o.env.tunnel.v4(16 * o.slot)}/28`,
    async restart(r = {}) {
      await proc.kill(r.signal ?? 'SIGKILL')
      if (r.extra) extra = r.extra
      proc = await launch()
    },
    async stop() {
      if (stopped) return
      stopped = true
      await proc.kill()
    },
  }
}

export interface ClientOvpnOptions {
  env: VpnLan
  pki: TlsPki
  variant: TlsVariant
  port: number
  /** `auth-user-pass FILE` (a file next to the .ovpn, as a user keeps it). */
  authFile?: string
  /** More lines (e.g. reneg-sec 10). */
  extraLines?: string[]
}

/** A client .ovpn as an admin exports it: remote, verification, inline PKI and control-channel key. */
export function clientOvpnText(o: ClientOvpnOptions): string {
  const { env, pki, variant: v } = o
  const wrap: string[] =
    v.wrap === 'tls-crypt'
      ? ['<tls-crypt>', pki.tlsCrypt.trim(), '</tls-crypt>']
      : v.wrap === 'tls-crypt-v2'
        ? ['<tls-crypt-v2>', pki.v2Client.trim(), '</tls-crypt-v2>']
        : ['key-direction 1', ...(v.wrap === 'tls-auth-sha256' ? ['auth SHA256'] : []), '<tls-auth>', pki.tlsCrypt.trim(), '</tls-auth>']
  return [
    `# ${v.name}: exported for ${pki.serverCn}`,
    'client',
    'dev tun',
    `proto ${v.proto}`,
    `remote ${env.serverIp} ${o.port}`,
    'resolv-retry infinite',
    'nobind',
    'persist-key',
    'persist-tun',
    'remote-cert-tls server',
    `verify-x509-name ${pki.serverCn} name`,
    ...(o.authFile ? [`auth-user-pass ${o.authFile}`] : []),
    'verb 3',
    ...(o.extraLines ?? []),
    '<ca>', pki.ca.trim(), '</ca>',
    '<cert>', pki.clientCert.trim(), '</cert>',
    '<key>', pki.clientKey.trim(), '</key>',
    ...wrap,
    '',
  ].join('\n')
}

/** Write a client .ovpn (mode 0600, it holds a private key) into `dir`; returns its path. */
export function writeClientOvpn(dir: string, name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode: 0o600 })
  return p
}

/**
 * The CLI's own session code (dist/cli/session.js) in a separate node process, for the one case a
 * .ovpn cannot express: a client that does not announce IV_PROTO_TLS_KEY_EXPORT (an OpenVPN 2.6
 * server has no switch to refuse TLS-EKM, and the 2.6 client has no directive to drop it), so the
 * server falls back to the key-method-2 PRF. Loads the .ovpn with the CLI's loader, clears
 * settings.tlsKeyExport, then runs startSession exactly as `burrow-proxy --config` does, printing
 * the same status lines.
 */
export async function startCliNoEkm(config: string, timeoutMs = 30_000): Promise<CliSession> {
  const dist = cliPath().replace(/\/cli\/main\.js$/, '')
  const script = `
const { loadTunnel } = await import(${JSON.stringify(`${dist}/client/load-config.js`)})
const { startSession } = await import(${JSON.stringify(`${dist}/cli/session.js`)})
const { consoleLogger } = await import(${JSON.stringify(`${dist}/core/log.js`)})
const log = consoleLogger(false)
const { tunnel } = loadTunnel(process.argv[1], { logger: log })
tunnel.settings.tlsKeyExport = false
const status = (l) => process.stdout.write('burrow-proxy: ' + l + '\\n')
const s = await startSession({ http: { host: '127.0.0.1', port: 0 }, socks: { host: '127.0.0.1', port: 0 }, dns: [], noDirect: false, expose: [], exposeAllow: [], forward: [] }, tunnel, log, status)
process.on('SIGTERM', () => s.close().then(() => process.exit(0), () => process.exit(1)))
`
  const proc = startProc(process.execPath, ['--input-type=module', '-e', script, config], { env: { ...process.env, FORCE_COLOR: '0' } })
  return cliSession(proc, timeoutMs)
}

/** Wait until the output after offset `from` matches `re`; returns the match. */
export async function waitForOutput(p: Proc, re: RegExp, from: number, timeoutMs: number): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const m = p.output().slice(from).match(re)
    if (m) return m
    if (Date.now() > end) throw new Error(`timeout waiting for ${re}; output:\n${p.output().slice(-3000)}`)
    if (p.child.exitCode !== null) throw new Error(`process exited (${p.child.exitCode}) before ${re}; output:\n${p.output().slice(-3000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Wait for a process to exit; resolves with its exit code (null when killed by a signal). */
export function waitExit(p: Proc, timeoutMs: number): Promise<number | null> {
  if (p.child.exitCode !== null) return Promise.resolve(p.child.exitCode)
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`process still running after ${timeoutMs} ms:\n${p.output().slice(-3000)}`)), timeoutMs)
    p.child.once('exit', (code) => {
      clearTimeout(t)
      res(code)
    })
  })
}
