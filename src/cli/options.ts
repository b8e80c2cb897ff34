// Command-line options (yargs). Pure: parses argv into CliOptions or throws a UsageError; the
// process-touching part lives in main.ts.
import yargs from 'yargs'
import { isIP } from 'node:net'
import { isLoopback, parseListenSpec, type ListenSpec } from './listen-spec.js'

export class UsageError extends Error {
  override name = 'UsageError'
}

export interface CliOptions {
  command: 'run' | 'demo'
  config?: string
  http: ListenSpec | null
  socks: ListenSpec | null
  allowRemote: boolean
  dns: string[]
  noDirect: boolean
  proxyAuth?: { username: string; password: string }
  expose: string[]
  exposeAllow: string[]
  forward: string[]
  verbose: boolean
  /** demo: exit after the self-check instead of serving until Ctrl-C. */
  once: boolean
  /** Warnings to print (e.g. non-loopback binds). */
  warnings: string[]
}

export function buildParser(argv: string[]) {
  return yargs(argv)
    .scriptName('burrow-proxy')
    .usage(
      'Usage:\n  $0 --config FILE [options]   connect and serve HTTP + SOCKS proxies\n  $0 demo [--once]             self-contained demo on loopback (no VPN server, no root)',
    )
    .command('$0', 'connect using an OpenVPN .ovpn or WireGuard .conf file')
    .command('demo', 'run an in-process VPN server on loopback and proxy through it')
    .option('config', { alias: 'c', type: 'string', describe: 'OpenVPN .ovpn or wg-quick .conf file' })
    .option('http', { type: 'string', default: '127.0.0.1:8080', describe: 'HTTP proxy listen address (HOST:PORT, PORT or off)' })
    .option('socks', { type: 'string', default: '127.0.0.1:1080', describe: 'SOCKS5/SOCKS4 listen address (HOST:PORT, PORT or off)' })
    .option('allow-remote', { type: 'boolean', default: false, describe: 'allow proxies to listen on non-loopback addresses' })
    .option('dns', { type: 'string', array: true, default: [], describe: 'DNS server inside the tunnel (overrides pushed/configured DNS)' })
    .option('direct', { type: 'boolean', default: true, describe: 'reach destinations outside the tunnel routes directly (--no-direct refuses them)' })
    .option('proxy-auth', { type: 'string', describe: 'require USER:PASS on the proxies (Basic / RFC 1929)' })
    .option('expose', { type: 'string', array: true, default: [], describe: '[tcp|udp://]TUNNELPORT=HOST:PORT: serve a local service to VPN peers' })
    .option('expose-allow', { type: 'string', array: true, default: [], describe: 'CIDR allowed to reach exposed ports' })
    .option('forward', { type: 'string', array: true, default: [], describe: '[tcp|udp://]LOCALHOST:PORT=REMOTE:PORT: local port forwarded through the tunnel' })
    .option('once', { type: 'boolean', default: false, describe: 'demo: exit after the self-check' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false })
    .strict()
    .help()
    .version()
    .exitProcess(false)
}

export function toOptions(a: Record<string, unknown>): CliOptions {
  const cmd = (a._ as unknown[] | undefined)?.[0]
  const command = cmd === 'demo' ? 'demo' : 'run'
  if (cmd !== undefined && cmd !== 'demo') throw new UsageError(`unknown command "${String(cmd)}"`)
  const warnings: string[] = []
  const http = parseListenSpec('http', String(a.http))
  const socks = parseListenSpec('socks', String(a.socks))
  const allowRemote = Boolean(a['allow-remote'])
  for (const [flag, spec] of [['http', http], ['socks', socks]] as const) {
    if (spec && !isLoopback(spec.host)) {
      if (!allowRemote) throw new UsageError(`--${flag} ${spec.host}:${spec.port} is not a loopback address; add --allow-remote to expose the proxy to other machines`)
      warnings.push(`the ${flag} proxy listens on ${spec.host}:${spec.port}: anyone who can reach it can use your VPN`)
    }
  }
  if (http && socks && http.host === socks.host && http.port === socks.port && http.port !== 0) {
    // One port serving both protocols is supported (sniffed by the first byte).
  }
  const dns = (a.dns as string[]).map(String)
  for (const d of dns) if (!isIP(d)) throw new UsageError(`--dns ${d}: not an IP address`)
  let proxyAuth: CliOptions['proxyAuth']
  if (a['proxy-auth'] !== undefined) {
    const s = String(a['proxy-auth'])
    const i = s.indexOf(':')
    if (i <= 0) throw new UsageError('--proxy-auth expects USER:PASS')
    proxyAuth = { username: s.slice(0, i), password: s.slice(i + 1) }
  }
  const config = a.config === undefined ? undefined : String(a.config)
  if (command === 'run' && !config) throw new UsageError('missing --config FILE (an OpenVPN .ovpn or WireGuard .conf); try "burrow-proxy demo" for a self-contained demo')
  return {
    command,
    config,
    http,
    socks,
    allowRemote,
    dns,
    noDirect: a.direct === false,
    proxyAuth,
    expose: (a.expose as string[]).map(String),
    exposeAllow: (a['expose-allow'] as string[]).map(String),
    forward: (a.forward as string[]).map(String),
    verbose: Boolean(a.verbose),
    once: Boolean(a.once),
    warnings,
  }
}

export async function parseArgs(argv: string[]): Promise<CliOptions | 'exit'> {
  let failure: string | undefined
  const parser = buildParser(argv).fail((msg, err) => {
    failure = msg || err?.message || 'invalid arguments'
  })
  const a = await parser.parseAsync()
  if (failure) throw new UsageError(failure)
  if (a.help || a.version) return 'exit'
  return toOptions(a as Record<string, unknown>)
}
