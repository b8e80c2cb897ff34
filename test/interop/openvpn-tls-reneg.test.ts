// End to end, data-channel key renegotiation (OpenVPN TLS mode, P_CONTROL_SOFT_RESET_V1 + a new
// key_id, old key kept for the transition window): the built CLI against real `openvpn` 2.6 servers
// (test/harness/ovpn-tls-e2e.ts) with a 60-second paced download (the lan serves
// /bytes?n=&seed=&sec=60 evenly over 60 s) through the proxies, sha256-exact, while keys change every
// 10 s. Two cases, run side by side on two servers and two CLIs:
//   server-initiated: the server has `reneg-sec 10`, the client keeps its default (3600);
//   client-initiated: the client's .ovpn has `reneg-sec 10`, the server keeps its default (3600),
//                     so every key change inside the minute was started by the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { interopSkipReason, type Proc } from '../harness/netns.js'
import { patternSha256 } from '../harness/pattern.js'
import type { VpnLan } from '../harness/vpn-lan.js'
import { curlSha256, startCli, startLanHttp } from '../harness/wg-server.js'
import { clientOvpnText, createTlsLan, startTlsServer, writeClientOvpn, type TlsPki, type TlsVariant } from '../harness/ovpn-tls-e2e.js'

const skip = interopSkipReason('openvpn-tls-reneg (CLI ⇄ openvpn 2.6 TLS, reneg-sec 10)', ['openvpn', 'openssl', 'curl', 'dnsmasq'])
const PREFIX = 'bpx'
const PACED_PORT = 8090
const BYTES = 60 * 1024 * 1024
const SECONDS = 60

let env: VpnLan | undefined
let pki: TlsPki
let paced: Proc | undefined

beforeAll(async () => {
  if (skip) return
  const lan = await createTlsLan(PREFIX)
  env = lan.env
  pki = lan.pki
  paced = await startLanHttp(env.lan, PACED_PORT)
}, 60_000)
afterAll(async () => {
  await paced?.kill()
  await env?.destroy()
})

const keyLines = (out: string) => [...out.matchAll(/data channel key (\d) active \(([^)]*)\)/g)]

async function pacedRun(o: { slot: number; via: 'socks' | 'http'; serverExtra: string[]; clientLines: string[]; label: string }): Promise<void> {
  const e = env!
  const variant: TlsVariant = { name: `reneg ${o.label}`, proto: 'udp', wrap: 'tls-crypt' }
  const server = await startTlsServer({ env: e, pki, variant, slot: o.slot, port: 1194 + o.slot, prefix: PREFIX, extra: o.serverExtra })
  const config = writeClientOvpn(e.tmp, `reneg-${o.label}.ovpn`, clientOvpnText({ env: e, pki, variant, port: server.port, extraLines: o.clientLines }))
  const cli = await startCli(config)
  try {
    await cli.proc.waitFor(/burrow-proxy: up: /, 5_000)
    const mark = cli.output().length
    const keysBefore = keyLines(cli.output()).length
    const seed = `reneg-${o.label}`
    const url = `http://${e.dnsName}:${PACED_PORT}/bytes?n=${BYTES}&seed=${seed}&sec=${SECONDS}`
    const proxy = o.via === 'socks' ? ['--socks5-hostname', `${cli.socks.host}:${cli.socks.port}`] : ['-x', `http://${cli.http.host}:${cli.http.port}`]
    const r = await curlSha256([...proxy, url], { timeoutMs: (SECONDS + 60) * 1000 })
    const during = cli.output().slice(mark)
    const keys = keyLines(cli.output()).slice(keysBefore)
    console.log(
      `[${o.label}] ${BYTES / 1048576} MB paced over ${SECONDS} s via ${o.via}: ${(r.ms / 1000).toFixed(1)} s, longest gap ${r.maxGapMs.toFixed(0)} ms, ` +
        `${keys.length} new data-channel keys (ids ${keys.map((k) => k[1]).join(',')})`,
    )
    if (r.code !== 0 || r.bytes !== BYTES) console.log(`curl: ${r.stderr}\nCLI:\n${cli.output().slice(-4000)}\nserver:\n${server.proc.output().slice(-4000)}`)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.bytes).toBe(BYTES)
    expect(r.sha256).toBe(patternSha256(BYTES, seed))
    // every 10 s over ~60 s: at least 4 renegotiations completed while the body was flowing
    expect(keys.length).toBeGreaterThanOrEqual(4)
    for (const k of keys) expect(k[2]).toMatch(/^AES-256-GCM, tls-ekm/)
    // key ids go 1..7 and wrap to 1 (0 is only the first key of a session)
    expect(keys.every((k) => k[1] !== '0')).toBe(true)
    // who started them: OpenVPN logs "TLS: soft reset sec=…" when it initiates a renegotiation
    const serverResets = server.proc.output().match(/TLS: soft reset sec=/g)?.length ?? 0
    if (o.label === 'server') expect(serverResets).toBeGreaterThanOrEqual(4)
    else expect(serverResets).toBe(0)
    // no outage, no error on either side
    expect(during).not.toMatch(/reconnecting|burrow-proxy: down|burrow-proxy: error|\[burrow\] error/)
    expect(server.proc.output()).not.toMatch(/AEAD Decrypt error|Authenticate\/Decrypt packet error|bad packet ID|TLS Error|replay/i)
    // a stalled transfer shows as a long pause in the body (pacing sends every 50 ms)
    expect(r.maxGapMs).toBeLessThan(5_000)
    expect(cli.proc.child.exitCode).toBeNull()
  } finally {
    await cli.stop()
    await server.stop()
  }
}

describe.skipIf(!!skip)('OpenVPN TLS renegotiation every 10 s during a 60 s transfer (CLI ⇄ openvpn 2.6)', () => {
  it.concurrent('server-initiated (server reneg-sec 10), through SOCKS5', async () => {
    await pacedRun({ slot: 0, via: 'socks', serverExtra: ['--reneg-sec', '10'], clientLines: [], label: 'server' })
  }, 150_000)
  it.concurrent('client-initiated (reneg-sec 10 in the client .ovpn), through the HTTP proxy', async () => {
    await pacedRun({ slot: 1, via: 'http', serverExtra: [], clientLines: ['reneg-sec 10'], label: 'client' })
  }, 150_000)
})
