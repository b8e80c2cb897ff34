import { describe, expect, it } from 'vitest'
import { isLoopback, parseListenSpec } from '../../src/cli/listen-spec.js'

describe('parseListenSpec', () => {
  it('accepts HOST:PORT, PORT, [v6]:PORT and off', () => {
    expect(parseListenSpec('http', '127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(parseListenSpec('http', '3128')).toEqual({ host: '127.0.0.1', port: 3128 })
    expect(parseListenSpec('socks', '[::1]:1080')).toEqual({ host: '::1', port: 1080 })
    expect(parseListenSpec('socks', 'localhost:1')).toEqual({ host: '127.0.0.1', port: 1 })
    expect(parseListenSpec('socks', 'off')).toBeNull()
  })
  it('rejects garbage with the flag name', () => {
    expect(() => parseListenSpec('http', 'abc')).toThrow(/--http abc/)
    expect(() => parseListenSpec('http', '1.2.3.4:99999')).toThrow(/range/)
    expect(() => parseListenSpec('socks', 'example.com:1080')).toThrow(/not an IP/)
  })
  it('knows loopback', () => {
    expect(isLoopback('127.0.0.1')).toBe(true)
    expect(isLoopback('127.5.0.1')).toBe(true)
    expect(isLoopback('::1')).toBe(true)
    expect(isLoopback('0.0.0.0')).toBe(false)
    expect(isLoopback('192.168.1.4')).toBe(false)
  })
})
