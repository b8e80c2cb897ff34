// mac1/mac2 and cookie replies (WireGuard paper §5.4.4, §5.4.7) against the independent reference
// (vectors/wg_reference.py, XChaCha20-Poly1305 via its own HChaCha20, checked against
// draft-irtf-cfrg-xchacha §2.2.1), and the under-load flow between two tunnels.
import { describe, expect, it } from 'vitest'
import { hex } from '../../src/core/bytes.js'
import { CookieChecker, CookieGenerator, cookieSource } from '../../src/wireguard/cookie.js'
import { x25519PublicFromPrivate } from '../../src/wireguard/crypto.js'
import { emitCookieReply, parseCookieReply, INITIATION_MAC1_OFFSET } from '../../src/wireguard/messages.js'
import { COOKIE_REFRESH_TIME, MessageType } from '../../src/wireguard/constants.js'
import { INPUTS, vec } from './vectors.js'
import { makeRig, startRig } from './helpers.js'

const srPub = () => x25519PublicFromPrivate(INPUTS.Sr_priv)
const src = cookieSource(Uint8Array.of(192, 0, 2, 1), 51820)

describe('mac1 / cookie vectors', () => {
  it('mac1 of the reference initiation verifies; a flipped byte does not', () => {
    const checker = new CookieChecker(srPub(), () => 0, () => INPUTS.cookieSecret)
    const init = vec('initiation')
    expect(checker.checkMac1(init, INITIATION_MAC1_OFFSET)).toBe(true)
    const bad = init.slice()
    bad[5] ^= 1
    expect(checker.checkMac1(bad, INITIATION_MAC1_OFFSET)).toBe(false)
    // mac1 keyed for another responder fails
    expect(new CookieChecker(x25519PublicFromPrivate(INPUTS.Er_priv), () => 0).checkMac1(init, INITIATION_MAC1_OFFSET)).toBe(false)
  })

  it('cookie reply bytes are exact, the initiator decrypts it and mac2 matches', () => {
    let now = 0
    const checker = new CookieChecker(srPub(), () => now, () => INPUTS.cookieSecret)
    const init = vec('initiation')
    const reply = checker.createReply(init, INITIATION_MAC1_OFFSET, INPUTS.I_i, src, INPUTS.cookieNonce)
    const out = new Uint8Array(64)
    emitCookieReply(reply, out, 0)
    expect(hex(out)).toBe(hex(vec('cookie_reply')))

    // the initiator side: re-create the same initiation so lastMac1 is the one the reply is bound to
    const gen = new CookieGenerator(srPub(), () => now)
    const again = init.slice()
    gen.addMacs(again, INITIATION_MAC1_OFFSET)
    expect(again).toEqual(init) // no cookie yet → mac2 zero
    expect(gen.consumeReply(parseCookieReply(out, 0, 64)!)).toBe(true)
    gen.addMacs(again, INITIATION_MAC1_OFFSET)
    expect(hex(again.subarray(132))).toBe(hex(vec('initiation_mac2')))
    expect(checker.checkMac2(again, INITIATION_MAC1_OFFSET, src)).toBe(true)
    // bound to the source address and port
    expect(checker.checkMac2(again, INITIATION_MAC1_OFFSET, cookieSource(Uint8Array.of(192, 0, 2, 1), 51821))).toBe(false)
    // a cookie expires after COOKIE_REFRESH_TIME on both sides
    now += COOKIE_REFRESH_TIME
    gen.addMacs(again, INITIATION_MAC1_OFFSET)
    expect(hex(again.subarray(132))).toBe('0'.repeat(32))
  })

  it('a cookie reply that does not match our last mac1 is refused', () => {
    const gen = new CookieGenerator(srPub(), () => 0)
    expect(gen.consumeReply(parseCookieReply(vec('cookie_reply'), 0, 64)!)).toBe(false) // nothing sent yet
    const other = vec('initiation').slice()
    other[20] ^= 1
    gen.addMacs(other, INITIATION_MAC1_OFFSET)
    expect(gen.consumeReply(parseCookieReply(vec('cookie_reply'), 0, 64)!)).toBe(false)
  })
})

describe('under load', () => {
  it('the responder answers with a cookie reply and the initiator retries with mac2', async () => {
    let load = true
    const r = makeRig({ serverOpts: { isUnderLoad: () => load } })
    r.net.logging = true
    await r.server.start()
    const p = r.client.start()
    await new Promise((res) => setImmediate(res))
    r.clock.advance(10)
    expect(r.net.log.map((d) => d.data[0])).toEqual([MessageType.HANDSHAKE_INITIATION, MessageType.COOKIE_REPLY])
    expect(r.client.counters.get('wireguard.cookie_rx')).toBe(1)
    // the retransmission (after REKEY_TIMEOUT + jitter) carries mac2 and is accepted under load
    r.clock.advance(5_400)
    await p
    const inits = r.net.log.filter((d) => d.data[0] === MessageType.HANDSHAKE_INITIATION)
    expect(inits.length).toBe(2)
    expect(hex(inits[1].data.subarray(132))).not.toBe('0'.repeat(32))
    expect(r.server.counters.get('wireguard.cookie_tx')).toBe(1)
    load = false
    await r.client.close()
    await r.server.close()
  })

  it('a burst of handshakes switches the responder into cookie mode', async () => {
    const r = makeRig()
    await startRig(r)
    // a fresh (mac1-valid) initiation, then replayed 80 times from one source within a second
    r.net.logging = true
    r.clock.advance(5_001) // past the REKEY_TIMEOUT rate limit on initiations
    r.client.peers[0].sendInitiation(false)
    const sent = r.net.log.find((d) => d.data[0] === MessageType.HANDSHAKE_INITIATION)!
    for (let i = 0; i < 80; i++) r.net.inject({ ...sent, data: sent.data.slice() })
    r.clock.advance(5)
    expect(r.server.counters.get('wireguard.cookie_tx')).toBeGreaterThan(0)
    expect(r.server.counters.get('wireguard.initiation_replay')).toBeGreaterThan(0)
    await r.client.close()
    await r.server.close()
  })

  it('an initiator under load sends a cookie reply to the response; the responder uses it next time', async () => {
    let load = true
    const r = makeRig({ clientOpts: { isUnderLoad: () => load } })
    r.net.logging = true
    await r.server.start()
    const p = r.client.start()
    await new Promise((res) => setImmediate(res))
    r.clock.advance(10)
    expect(r.net.log.map((d) => d.data[0])).toEqual([MessageType.HANDSHAKE_INITIATION, MessageType.HANDSHAKE_RESPONSE, MessageType.COOKIE_REPLY])
    expect(r.server.counters.get('wireguard.cookie_rx')).toBe(1)
    r.clock.advance(5_400) // retransmitted initiation; the new response carries mac2
    await p
    const responses = r.net.log.filter((d) => d.data[0] === MessageType.HANDSHAKE_RESPONSE)
    expect(responses.length).toBe(2)
    expect(hex(responses[1].data.subarray(76))).not.toBe('0'.repeat(32))
    load = false
    await r.client.close()
    await r.server.close()
  })
})
