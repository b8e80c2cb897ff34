import { describe, expect, it } from 'vitest'
import { parseExposeSpec, parseForwardSpec } from '../../src/ingress/spec.js'

describe('--expose / --forward specs', () => {
  it('parses expose forms', () => {
    expect(parseExposeSpec('8080=127.0.0.1:3000')).toEqual({ proto: 'tcp', tunnelPort: 8080, target: { host: '127.0.0.1', port: 3000 } })
    expect(parseExposeSpec('udp://5353=127.0.0.1:53')).toEqual({ proto: 'udp', tunnelPort: 5353, target: { host: '127.0.0.1', port: 53 } })
    expect(parseExposeSpec('tcp://22=[::1]:2222')).toEqual({ proto: 'tcp', tunnelPort: 22, target: { host: '::1', port: 2222 } })
    expect(parseExposeSpec('80=3000').target).toEqual({ host: '127.0.0.1', port: 3000 })
  })
  it('parses forward forms', () => {
    expect(parseForwardSpec('127.0.0.1:5432=db.internal:5432')).toEqual({
      proto: 'tcp',
      local: { host: '127.0.0.1', port: 5432 },
      remote: { host: 'db.internal', port: 5432 },
    })
    expect(parseForwardSpec('udp://5353=10.0.0.53:53').local).toEqual({ host: '127.0.0.1', port: 5353 })
  })
  it('rejects malformed specs naming the flag', () => {
    expect(() => parseExposeSpec('8080')).toThrow(/--expose 8080/)
    expect(() => parseExposeSpec('sctp://1=h:2')).toThrow(/tcp:\/\/ and udp/)
    expect(() => parseExposeSpec('0=h:1')).toThrow(/out of range/)
    expect(() => parseForwardSpec('1=host')).toThrow(/HOST:PORT/)
    expect(() => parseForwardSpec('1=fe80::1:22')).toThrow(/bracket/)
  })
})
