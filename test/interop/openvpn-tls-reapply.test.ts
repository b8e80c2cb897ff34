// End to end: a reconnect's new PUSH_REPLY reaches the netstack (issue #4, acceptance 3: "pushed
// options re-applied"). A real `openvpn` 2.6 TLS server (test/harness/ovpn-tls-e2e.ts) in the vpn
// namespace of a vpn-lan topology, the built CLI connected to it. The server is killed and started
// again with a client-config-dir entry for the client's certificate that hands out another tunnel
// address (ifconfig-push) and replaces the pushed DNS server (push-remove + push) by a second
// dnsmasq on another lan address that alone knows the name "new.burrow". After the CLI reconnects
// by itself, its 'up' line shows the new address and DNS server, it logs the change, and a name
// lookup through SOCKS5 (curl --socks5-hostname) works: asked of the new server, from the new
// tunnel address.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import type { VpnLan } from '../harness/vpn-lan.js'
import { curlSha256, startCli, type CliSession } from '../harness/wg-server.js'
import { clientOvpnText, createTlsLan, startTlsServer, waitForOutput, writeClientOvpn, type TlsPki, type TlsVariant } from '../harness/ovpn-tls-e2e.js'

const skip = interopSkipReason('openvpn-tls-reapply (CLI ⇄ openvpn 2.6 TLS, reconnect with new address/DNS)', ['openvpn', 'openssl', 'curl', 'dnsmasq'])
const PREFIX = 'bra'
const NEW_NAME = 'new.burrow'
const KB = 1024

let env: VpnLan | undefined
let pki: TlsPki
/** The second DNS server (a lan address of its own) and its dnsmasq. */
let dns2Ip = ''
let dns2: Proc | undefined

beforeAll(async () => {
  if (skip) return
  const lan = await createTlsLan(PREFIX)
  env = lan.env
  pki = lan.pki
  // a second address on the lan host's interface, with a dnsmasq of its own
  dns2Ip = env.lan4.v4(3)
  const dev = env.lan.exec('ip', ['-o', '-4', 'addr', 'show']).match(new RegExp(`^\\d+:\\s+(\\S+)\\s+inet ${env.lanIp.replace(/\./g, '\\.')}/`, 'm'))?.[1]
  if (!dev) throw new Error(`no lan interface holds ${env.lanIp}`)
  env.lan.exec('ip', ['addr', 'add', `${dns2Ip}/24`, 'dev', dev])
  dns2 = env.lan.spawn('dnsmasq', [
    '--no-daemon', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${dns2Ip}`,
    `--address=/${NEW_NAME}/${env.lanIp}`, `--address=/${env.dnsName}/${env.lanIp}`,
    `--pid-file=${join(env.tmp, 'dnsmasq2.pid')}`, '--log-facility=-', '--log-queries',
  ])
  await dns2.waitFor(/started, version/, 10_000)
}, 60_000)
afterAll(async () => {
  await env?.destroy() // kills both dnsmasq (lan namespace processes) and removes everything
})

/** A small download by name through SOCKS5 (the name resolved by burrow inside the tunnel). */
async function fetchByName(cli: CliSession, name: string, seed: string): Promise<void> {
  const n = 64 * KB
  const r = await curlSha256(['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`, `http://${name}:${env!.httpPort}/bytes?n=${n}&seed=${seed}`], { timeoutMs: 30_000 })
  if (r.code !== 0) console.log(`curl ${name}: code ${r.code}, ${r.bytes} bytes, ${r.stderr}\nCLI:\n${cli.output().slice(-3000)}`)
  expect(r.code).toBe(0)
  expect(r.bytes).toBe(n)
  expect(r.sha256).toBe(patternSha256(n, seed))
}

describe.skipIf(!!skip)('burrow-proxy CLI ⇄ OpenVPN 2.6 TLS: a reconnect re-applies the pushed address and DNS', () => {
  it('server restarted with another client address and DNS server → new up line, lookups go to the new server', async () => {
    const e = env!
    const variant: TlsVariant = { name: 'tls-crypt udp reapply', proto: 'udp', wrap: 'tls-crypt' }
    const server = await startTlsServer({ env: e, pki, variant, slot: 0, port: 1194, prefix: PREFIX, extra: ['--keepalive', '1', '4'] })
    // after the restart: this client (CN bra-client) gets .10 of the /28 and only the second DNS
    const newAddr = e.tunnel.v4(10)
    const ccd = join(e.tmp, 'ccd')
    mkdirSync(ccd)
    writeFileSync(join(ccd, `${PREFIX}-client`), [`ifconfig-push ${newAddr} 255.255.255.240`, 'push-remove "dhcp-option"', `push "dhcp-option DNS ${dns2Ip}"`, ''].join('\n'))
    const config = writeClientOvpn(e.tmp, 'reapply.ovpn', clientOvpnText({ env: e, pki, variant, port: server.port }))
    let cli: CliSession | undefined
    try {
      cli = await startCli(config)
      const up = (await cli.proc.waitFor(/burrow-proxy: up: [^\n]*/, 5_000))[0]
      const addr = (l: string) => l.match(/address ([\d.]+)\//)?.[1]
      const oldAddr = addr(up)
      expect(oldAddr).toBeDefined()
      expect(oldAddr).not.toBe(newAddr)
      expect(up).toContain(`dns ${e.lanIp}`)
      await fetchByName(cli, e.dnsName, 'before')

      const mark = cli.output().length
      const dns2From = dns2!.output().length
      await server.restart({ signal: 'SIGKILL', extra: ['--keepalive', '1', '4', '--client-config-dir', ccd] })
      const rec = await waitForOutput(cli.proc, /burrow-proxy: reconnecting[^\n]*/, mark, 20_000)
      const recAt = cli.output().indexOf(rec[0], mark)
      const up2 = (await waitForOutput(cli.proc, /burrow-proxy: up: [^\n]*/, recAt, 30_000))[0]
      expect(addr(up2)).toBe(newAddr)
      expect(up2).toContain(`dns ${dns2Ip}`)
      expect(up2).not.toContain(e.lanIp)
      expect(cli.output().slice(mark)).toContain(`tunnel reconnected with new settings: address ${oldAddr}/28 → ${newAddr}/28`)
      expect(cli.output().slice(mark)).toMatch(new RegExp(`dns ${e.lanIp.replace(/\./g, '\\.')} → ${dns2Ip.replace(/\./g, '\\.')}`))

      // only the new DNS server knows new.burrow: the lookup went there, from the new address
      await fetchByName(cli, NEW_NAME, 'after')
      await fetchByName(cli, e.dnsName, 'after-old-name')
      const log2 = dns2!.output().slice(dns2From)
      expect(log2, log2.slice(-1500)).toMatch(new RegExp(`query\\[A\\] ${NEW_NAME.replace('.', '\\.')} from ${newAddr.replace(/\./g, '\\.')}`))
      expect(cli.proc.child.exitCode).toBeNull()
    } catch (err) {
      console.log(`CLI output:\n${cli?.output().slice(-3000)}\nopenvpn output:\n${server.proc.output().slice(-3000)}`)
      throw err
    } finally {
      await cli?.stop()
      await server.stop()
    }
  }, 90_000)
})
