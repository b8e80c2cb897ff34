// NetstackDialer.relinked(): pending tunnel connects are started afresh (once) when the tunnel
// comes back after an outage, instead of waiting out TCP's SYN backoff. The stack is a stub that
// records connectTcp calls; the end-to-end effect is covered by test/interop/wireguard-e2e.test.ts.
import { describe, expect, it } from 'vitest'
import { NetstackDialer, TUNNEL_CONNECT_TIMEOUT_MS } from '../../src/client/netstack-dialer.js'
import { BurrowError, ErrorCode } from '../../src/core/errors.js'
import type { NetStackApi, TcpConn, TcpConnectOptions } from '../../src/netstack/api.js'

interface Call {
  opts: TcpConnectOptions
  fail(err: Error): void
}

function stubStack(): { stack: NetStackApi; calls: Call[] } {
  const calls: Call[] = []
  const stack = {
    connectTcp(opts: TcpConnectOptions): Promise<TcpConn> {
      return new Promise<TcpConn>((_, reject) => {
        const fail = (err: Error) => reject(err)
        opts.signal?.addEventListener('abort', () => fail(new BurrowError(ErrorCode.EABORTED, 'connect aborted')), { once: true })
        calls.push({ opts, fail })
      })
    },
  } as unknown as NetStackApi
  return { stack, calls }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('NetstackDialer', () => {
  it('connects with the tunnel connect timeout', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const p = d.connect('10.0.0.1', 80)
    await tick()
    expect(calls).toHaveLength(1)
    expect(calls[0].opts).toMatchObject({ host: '10.0.0.1', port: 80, timeoutMs: TUNNEL_CONNECT_TIMEOUT_MS })
    calls[0].fail(new BurrowError(ErrorCode.ECONNREFUSED, 'refused'))
    await expect(p).rejects.toMatchObject({ code: ErrorCode.ECONNREFUSED })
  })

  it('relinked() aborts a pending attempt and starts a new one, once per connect', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const p = d.connect('[fd00::1]', 443)
    await tick()
    d.relinked()
    await tick()
    expect(calls).toHaveLength(2)
    expect(calls[0].opts.signal?.aborted).toBe(true)
    expect(calls[1].opts).toMatchObject({ host: 'fd00::1', port: 443 })
    d.relinked() // a second outage during the same connect does not redial again
    await tick()
    expect(calls).toHaveLength(2)
    // the superseded attempt's EABORTED is not the result: the new attempt's outcome is
    calls[1].fail(new BurrowError(ErrorCode.ETIMEDOUT, 'timed out'))
    await expect(p).rejects.toMatchObject({ code: ErrorCode.ETIMEDOUT })
    d.relinked() // settled connects are forgotten
    await tick()
    expect(calls).toHaveLength(2)
  })

  it('an outer abort ends the current attempt', async () => {
    const { stack, calls } = stubStack()
    const d = new NetstackDialer(stack, () => false)
    const ac = new AbortController()
    const p = d.connect('10.0.0.1', 80, ac.signal)
    await tick()
    d.relinked()
    await tick()
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: ErrorCode.EABORTED })
    expect(calls.every((c) => c.opts.signal?.aborted)).toBe(true)
    await expect(d.connect('10.0.0.1', 80, ac.signal)).rejects.toMatchObject({ code: ErrorCode.EABORTED })
  })
})
