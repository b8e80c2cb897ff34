import { describe, expect, it } from 'vitest'
import { parseOvpn } from '../../../src/config/ovpn.js'
import { tlsSettingsFromOvpn, parseUserPass } from '../../../src/openvpn/tls/options.js'

const KEY = '-----BEGIN OpenVPN Static key V1-----\n' + 'ab'.repeat(256).replace(/(.{32})/g, '$1\n') + '-----END OpenVPN Static key V1-----'
const base = ['client', 'dev tun', 'remote vpn.example 1194 udp', '<ca>', 'CA PEM', '</ca>', '<cert>', 'CERT', '</cert>', '<key>', 'KEY', '</key>']

describe('TLS settings from .ovpn', () => {
  it('reads an admin-exported profile with inline blocks', () => {
    const cfg = parseOvpn([...base, 'remote-cert-tls server', 'verify-x509-name vpn-01 name-prefix', 'tls-version-min 1.2', 'data-ciphers AES-128-GCM:CHACHA20-POLY1305', 'reneg-sec 600', 'key-direction 1', 'auth SHA256', '<tls-auth>', KEY, '</tls-auth>', '<auth-user-pass>', 'alice', 'pw', '</auth-user-pass>'].join('\n'))
    const s = tlsSettingsFromOvpn(cfg)
    expect(s.creds).toMatchObject({ ca: 'CA PEM\n', cert: 'CERT\n', key: 'KEY\n', remoteCertTls: 'server', verifyX509Name: { name: 'vpn-01', type: 'name-prefix' }, tlsVersionMin: '1.2' })
    expect(s.dataCiphers).toEqual(['AES-128-GCM', 'CHACHA20-POLY1305'])
    expect(s.renegSec).toBe(600)
    expect(s.wrap).toMatchObject({ mode: 'tls-auth', direction: 1, digest: 'SHA256' })
    expect(s.userPass).toEqual({ username: 'alice', password: 'pw' })
  })
  it('defaults: 2.6 data-ciphers, reneg 3600 s, no wrap, EKM announced', () => {
    const s = tlsSettingsFromOvpn(parseOvpn(base.join('\n')))
    expect(s.dataCiphers).toEqual(['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'])
    expect(s.renegSec).toBe(3600)
    expect(s.wrap.mode).toBe('none')
    expect(s.tlsKeyExport).toBe(true)
  })
  it('refuses weaker verification than configured and conflicting wraps', () => {
    expect(() => tlsSettingsFromOvpn(parseOvpn([...base, 'peer-fingerprint AB:CD'].join('\n')))).toThrow(/refusing/)
    expect(() => tlsSettingsFromOvpn(parseOvpn([...base, '<tls-auth>', KEY, '</tls-auth>', '<tls-crypt>', KEY, '</tls-crypt>'].join('\n')))).toThrow(/only one/)
    expect(() => tlsSettingsFromOvpn(parseOvpn([...base, 'data-ciphers BF-CBC'].join('\n')))).toThrow(/none of/)
    expect(() => tlsSettingsFromOvpn(parseOvpn(['client', 'remote x', '<cert>', 'C', '</cert>', '<key>', 'K', '</key>'].join('\n')))).toThrow(/needs "ca"/)
  })
  it('compression stubs in the .ovpn frame without compressing; real compression and static-key stubs are refused', () => {
    const framing = (line: string) => tlsSettingsFromOvpn(parseOvpn([...base, line].join('\n'))).framing
    expect(framing('compress stub-v2')).toBe('stub-v2')
    expect(framing('compress')).toBe('stub-swap')
    expect(framing('compress stub')).toBe('stub-swap')
    expect(framing('comp-lzo no')).toBe('lzo-stub')
    expect(() => parseOvpn([...base, 'compress lz4-v2'].join('\n'))).toThrow(/compression is not supported/)
    expect(() => parseOvpn([...base, 'comp-lzo'].join('\n'))).toThrow(/compression is not supported/)
    expect(() => parseOvpn(['dev tun', 'remote 127.0.0.1 1194', `<secret>\n${KEY}\n</secret>`, 'cipher AES-256-CBC', 'ifconfig 10.1.0.2 10.1.0.1', 'comp-lzo no'].join('\n'))).toThrow(/compression is not supported/)
  })
  it('auth-user-pass file format', () => {
    expect(parseUserPass('bob\r\nsecret word\r\n')).toEqual({ username: 'bob', password: 'secret word' })
    expect(parseUserPass('\n')).toBeUndefined()
  })
})
