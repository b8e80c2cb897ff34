import { describe, expect, it } from 'vitest'
import { parseEndpoint, parseWgKey, parseWgQuick } from '../../src/config/wgquick.js'
import { ConfigError } from '../../src/core/errors.js'
import type { Logger } from '../../src/core/log.js'

const PRIV = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk='
const PUB1 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
const PUB2 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='
const PSK = 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE='

function capture(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = []
  return { warnings, logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} } }
}

function err(text: string): ConfigError {
  try {
    parseWgQuick(text, 'wg0.conf')
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return e as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('wg-quick parser', () => {
  it('parses a full file with several peers, as wg-quick would', () => {
    const { logger, warnings } = capture()
    const cfg = parseWgQuick(
      `# comment line
[Interface]
PrivateKey = ${PRIV}
Address = 10.0.0.2/32, fd00::2/128
Address = 10.0.1.2
DNS = 10.0.0.1, fd00::1, corp.example, lan
MTU = 1380
ListenPort = 51821
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -j MASQUERADE
Table = off
SaveConfig = true

[Peer]
# first server
PublicKey = ${PUB1}
PresharedKey = ${PSK}
Endpoint = vpn.example.com:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25

[peer]
publickey = ${PUB2}
endpoint = [2001:db8::1]:4500
allowedips = 10.8.0.0/16
AllowedIPs = 192.168.7.1   # a host route
persistentkeepalive = off
`,
      'wg0.conf',
      logger,
    )
    expect(cfg.interface.addresses).toEqual([
      { address: '10.0.0.2', prefix: 32 },
      { address: 'fd00::2', prefix: 128 },
      { address: '10.0.1.2', prefix: 32 },
    ])
    expect(cfg.interface.dns).toEqual(['10.0.0.1', 'fd00::1'])
    expect(cfg.interface.searchDomains).toEqual(['corp.example', 'lan'])
    expect(cfg.interface.mtu).toBe(1380)
    expect(cfg.interface.listenPort).toBe(51821)
    expect(Buffer.from(cfg.interface.privateKey).toString('base64')).toBe(PRIV)
    expect(cfg.peers.length).toBe(2)
    expect(cfg.peers[0]).toMatchObject({ endpoint: { host: 'vpn.example.com', port: 51820 }, persistentKeepalive: 25, line: 13 })
    expect(Buffer.from(cfg.peers[0].presharedKey!).toString('base64')).toBe(PSK)
    expect(cfg.peers[0].allowedIps).toEqual([
      { address: '0.0.0.0', prefix: 0 },
      { address: '::', prefix: 0 },
    ])
    expect(cfg.peers[1]).toMatchObject({ endpoint: { host: '2001:db8::1', port: 4500 } })
    expect(cfg.peers[1].persistentKeepalive).toBeUndefined()
    expect(cfg.peers[1].allowedIps).toEqual([
      { address: '10.8.0.0', prefix: 16 },
      { address: '192.168.7.1', prefix: 32 },
    ])
    expect(warnings).toEqual([
      'wg0.conf:9: PostUp: applies only to a kernel interface (wg-quick); ignored',
      'wg0.conf:10: Table: applies only to a kernel interface (wg-quick); ignored',
      'wg0.conf:11: SaveConfig: applies only to a kernel interface (wg-quick); ignored',
    ])
  })

  it('accepts CRLF files and a minimal client', () => {
    const cfg = parseWgQuick(`[Interface]\r\nPrivateKey = ${PRIV}\r\n[Peer]\r\nPublicKey = ${PUB1}\r\nEndpoint = 192.0.2.1:51820\r\nAllowedIPs = 0.0.0.0/0\r\n`)
    expect(cfg.peers[0].endpoint).toEqual({ host: '192.0.2.1', port: 51820 })
    expect(cfg.interface.mtu).toBeUndefined()
  })

  it('names file, line and key in errors', () => {
    const base = `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PUB1}\n`
    let e = err(`[Interface]\nPrivateKey = abc\n`)
    expect([e.file, e.line, e.directive]).toEqual(['wg0.conf', 2, 'PrivateKey'])
    expect(e.message).toMatch(/^wg0\.conf:2: PrivateKey: invalid key/)
    // 33 bytes of base64 / 31 bytes
    expect(err(`[Interface]\nPrivateKey = ${Buffer.alloc(33, 1).toString('base64')}\n`).line).toBe(2)
    expect(err(`[Interface]\nPrivateKey = ${Buffer.alloc(31, 1).toString('base64')}\n`).line).toBe(2)
    e = err(base + `PresharedKey = nope\n`)
    expect([e.line, e.directive]).toEqual([5, 'PresharedKey'])
    e = err(base + `Endpoint = 2001:db8::1:51820\n`)
    expect([e.line, e.directive]).toEqual([5, 'Endpoint'])
    expect(err(base + `Endpoint = host:0\n`).line).toBe(5)
    expect(err(base + `Endpoint = host\n`).line).toBe(5)
    expect(err(base + `Endpoint = [10.0.0.1]:5\n`).line).toBe(5)
    expect(err(base + `Endpoint = 1.2.3.999:5\n`).line).toBe(5)
    e = err(base + `AllowedIPs = 10.0.0.0/33\n`)
    expect([e.line, e.directive]).toEqual([5, 'AllowedIPs'])
    expect(err(base + `PersistentKeepalive = 70000\n`).directive).toBe('PersistentKeepalive')
    expect(err(base + `Foo = bar\n`).message).toMatch(/wg0\.conf:5: Foo: unknown key in \[Peer\]/)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\nMTU = 100\n`).directive).toBe('MTU')
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 70000\n`).directive).toBe('ListenPort')
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.0.0.300/24\n`).line).toBe(3)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\nDNS = 10.0.0.1, bad domain!\n`).directive).toBe('DNS')
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\nPrivateKey = ${PRIV}\n`).message).toMatch(/line 2/)
  })

  it('reports structural problems', () => {
    expect(err(`PrivateKey = ${PRIV}\n`).message).toMatch(/wg0\.conf:1: PrivateKey: key outside/)
    expect(err(`[Interface]\nAddress = 10.0.0.1/24\n`).message).toMatch(/wg0\.conf:1: PrivateKey: \[Interface\] has no PrivateKey/)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\n\n[Peer]\nAllowedIPs = 0.0.0.0/0\n`).message).toMatch(/wg0\.conf:4: PublicKey/)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\n[Wat]\n`).line).toBe(3)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\njust some words\n`).line).toBe(3)
    expect(err(`[Peer]\nPublicKey = ${PUB1}\n`).message).toMatch(/no \[Interface\]/)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\n[Interface]\nPrivateKey = ${PRIV}\n`).line).toBe(3)
    expect(err(`[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PUB1}\n[Peer]\nPublicKey = ${PUB1}\n`).message).toMatch(/wg0\.conf:5: .*line 3/)
  })

  it('validates keys and endpoints as wg does', () => {
    expect(parseWgKey(PRIV)?.length).toBe(32)
    expect(parseWgKey(PRIV.slice(0, -1))).toBeNull()
    expect(parseWgKey('yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmn=')).toBeNull() // non-canonical last char
    expect(parseEndpoint('a.b-c.example:1')).toEqual({ host: 'a.b-c.example', port: 1 })
    expect(parseEndpoint('[fe80::1%eth0]:51820')).toEqual({ host: 'fe80::1%eth0', port: 51820 })
    expect(parseEndpoint('1.2.3.4:65535')).toEqual({ host: '1.2.3.4', port: 65535 })
    expect(parseEndpoint('1.2.3.4:65536')).toBeNull()
    expect(parseEndpoint(':80')).toBeNull()
  })
})
