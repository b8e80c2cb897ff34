// Timer behaviour under FakeClock (WireGuard paper §6): rekey after REKEY_AFTER_TIME, keepalives,
// handshake retransmission with jitter, REJECT_AFTER_TIME, persistent keepalive, new handshake
// when replies stop, zeroing key material.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/core/clock.js'
import { PeerTimers } from '../../src/wireguard/timers.js'
import {
  KEEPALIVE_TIMEOUT,
  MessageType,
  REJECT_AFTER_TIME,
  REKEY_AFTER_TIME,
  REKEY_TIMEOUT,
  REKEY_TIMEOUT_JITTER_MAX,
} from '../../src/wireguard/constants.js'
import { makeRig, startRig, type Rig } from './helpers.js'
import { icmpEcho } from './packets.js'

const ping = (r: Rig, seq = 1) => r.client.send(icmpEcho('10.9.0.2', '10.9.0.1', { seq }))
const pong = (r: Rig, seq = 1) => r.server.send(icmpEcho('10.9.0.1', '10.9.0.2', { seq }))
const sentBy = (r: Rig, addr: string, type: number) => r.net.log.filter((d) => d.from.address === addr && d.data[0] === type)

describe('PeerTimers hooks', () => {
  it('retransmits with REKEY_TIMEOUT plus jitter in [0, 334) ms and gives up after MAX_TIMER_HANDSHAKES', () => {
    const clock = new FakeClock()
    const times: number[] = []
    let gaveUp = 0
    let rnd = 0
    const jit = [0, 0.5, 0.999]
    const t = new PeerTimers(
      clock,
      {
        retransmitHandshake: () => {
          times.push(clock.now())
          t.handshakeInitiated()
        },
        giveUpHandshake: () => gaveUp++,
        newHandshake: () => {},
        sendKeepalive: () => {},
        zeroKeyMaterial: () => {},
      },
      0,
      () => jit[rnd++ % 3],
    )
    t.handshakeInitiated()
    clock.advance(200_000)
    expect(times.length).toBe(19)
    const gaps = times.map((x, i) => x - (i ? times[i - 1] : 0))
    expect(gaps.slice(0, 3)).toEqual([REKEY_TIMEOUT + 0, REKEY_TIMEOUT + 167, REKEY_TIMEOUT + 333])
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(REKEY_TIMEOUT)
      expect(g).toBeLessThan(REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX)
    }
    expect(gaveUp).toBe(1)
  })

  it('sendKeepalive fires KEEPALIVE_TIMEOUT after data received unless something was sent', () => {
    const clock = new FakeClock()
    const ka: number[] = []
    const t = new PeerTimers(clock, {
      retransmitHandshake: () => {},
      giveUpHandshake: () => {},
      newHandshake: () => {},
      sendKeepalive: () => ka.push(clock.now()),
      zeroKeyMaterial: () => {},
    })
    t.dataReceived()
    clock.advance(3000)
    t.dataReceived() // already pending: needAnotherKeepalive
    clock.advance(7000)
    expect(ka).toEqual([10_000])
    clock.advance(10_000)
    expect(ka).toEqual([10_000, 20_000])
    t.dataReceived()
    clock.advance(5000)
    t.anyAuthenticatedPacketSent() // our own packet made the keepalive unnecessary
    clock.advance(20_000)
    expect(ka).toEqual([10_000, 20_000])
  })
})

describe('timers in a running tunnel', () => {
  it('the initiator rekeys after REKEY_AFTER_TIME when sending, and traffic continues', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    const t0 = r.clock.now()
    for (let i = 1; r.clock.now() - t0 < REKEY_AFTER_TIME + 20_000; i++) {
      ping(r, i)
      r.clock.advance(5)
      pong(r, i)
      r.clock.advance(9_995)
    }
    const inits = sentBy(r, '198.51.100.1', MessageType.HANDSHAKE_INITIATION)
    expect(inits.length).toBe(2)
    expect(r.client.counters.get('wireguard.handshake_complete')).toBe(2)
    expect(r.serverRx.length).toBe(r.clientRx.length)
    expect(r.serverRx.length).toBe(14)
    expect(r.server.counters.get('wireguard.bad_mac') + r.client.counters.get('wireguard.unknown_index')).toBe(0)
  })

  it('the receiving side answers data with a keepalive after KEEPALIVE_TIMEOUT', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    ping(r)
    r.clock.advance(KEEPALIVE_TIMEOUT - 100)
    expect(r.client.counters.get('wireguard.keepalive_rx')).toBe(0)
    r.clock.advance(200)
    expect(r.client.counters.get('wireguard.keepalive_rx')).toBe(1)
    const ka = sentBy(r, '198.51.100.2', MessageType.TRANSPORT_DATA).at(-1)!
    expect(ka.data.length).toBe(32)
  })

  it('starts a new handshake when data gets no reply for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    let events = 0
    r.client.on('reconnecting', () => events++)
    r.net.filter = (d) => d.from.address !== '198.51.100.2' // server goes silent
    ping(r)
    const t0 = r.clock.now()
    r.clock.advance(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 1)
    expect(sentBy(r, '198.51.100.1', MessageType.HANDSHAKE_INITIATION).length).toBe(1)
    r.clock.advance(REKEY_TIMEOUT_JITTER_MAX + 1)
    const inits = sentBy(r, '198.51.100.1', MessageType.HANDSHAKE_INITIATION)
    expect(inits.length).toBe(2)
    expect(r.clock.now() - t0).toBeLessThan(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + 1)
    expect(events).toBe(1)
    r.net.filter = () => true
    let up = 0
    r.client.on('up', () => up++)
    r.clock.advance(6_000) // the retransmission gets through
    expect(up).toBe(1)
  })

  it('never uses a keypair past REJECT_AFTER_TIME, in either direction', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    // from now on, no handshake message gets through: no new session can replace the old one
    r.net.filter = (d) => d.data[0] === MessageType.TRANSPORT_DATA
    const t0 = r.clock.now()
    r.clock.advance(REJECT_AFTER_TIME - 1_000)
    ping(r, 1)
    r.clock.advance(5)
    expect(r.serverRx.length).toBe(1)
    r.clock.advance(1_000)
    const before = sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).length
    ping(r, 2) // staged: triggers a handshake, not an encryption with the expired keypair
    expect(sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).length).toBe(before)
    // the server's keypair (created a few ms later) is expired too by now + 5 ms
    r.clock.advance(5)
    pong(r, 3)
    r.clock.advance(5)
    expect(r.clientRx.length).toBe(0)
    expect(r.clock.now() - t0).toBeGreaterThanOrEqual(REJECT_AFTER_TIME)
    expect(sentBy(r, '198.51.100.2', MessageType.TRANSPORT_DATA).filter((d) => d.data.length > 32).length).toBe(0)
  })

  it('drops a transport message that arrives after its keypair expired', async () => {
    const r = makeRig()
    r.net.logging = true
    await startRig(r)
    ping(r, 1)
    r.clock.advance(5)
    const data = sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).at(-1)!
    const late = data.data.slice()
    late[8] = 9 // a counter the window has not seen
    r.net.filter = () => false
    r.clock.advance(REJECT_AFTER_TIME)
    r.net.filter = () => true
    r.net.inject({ ...data, data: late })
    r.clock.advance(5)
    expect(r.server.counters.get('wireguard.expired_keypair')).toBe(1)
  })

  it('persistent keepalive sends every N seconds while idle', async () => {
    const r = makeRig({ persistentKeepalive: 25 })
    r.net.logging = true
    await startRig(r)
    const n0 = sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).length
    r.clock.advance(100_000)
    const n = sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).length - n0
    expect(n).toBe(4)
    expect(sentBy(r, '198.51.100.1', MessageType.TRANSPORT_DATA).every((d) => d.data.length === 32)).toBe(true)
  })

  it('zeroes key material 3 × REJECT_AFTER_TIME after the last session', async () => {
    const r = makeRig()
    await startRig(r)
    expect(r.client.peers[0].current).not.toBeNull()
    r.clock.advance(3 * REJECT_AFTER_TIME + 1)
    expect(r.client.peers[0].current).toBeNull()
    expect(r.server.peers[0].current).toBeNull()
  })
})
