// A minimal in-process OpenVPN TLS-mode server for deterministic tunnel tests under FakeClock.
// Built from the client's own layers (packet, reliable, data) plus a node:tls server; it proves
// the tunnel's state machine and timers, not wire compatibility (the interop tests do that).
import { randomBytes } from 'node:crypto'
import { Duplex } from 'node:stream'
import * as tls from 'node:tls'
import type { FakeClock } from '../../../src/core/clock.js'
import { readU16 } from '../../../src/core/bytes.js'
import type { Transport } from '../../../src/tunnel/types.js'
import { Opcode, encodeControlPacket, isDataOpcode, opcodeOf, parseControlPacket } from '../../../src/openvpn/tls/packet.js'
import { Reliable } from '../../../src/openvpn/tls/reliable.js'
import { DataChannel, PING_MAGIC } from '../../../src/openvpn/tls/data.js'
import { splitKey2, EXPORT_KEY_DATA_LABEL } from '../../../src/openvpn/tls/keys.js'
import { encodeText, MessageSplitter } from '../../../src/openvpn/tls/control.js'

export interface FakeServerOptions {
  clock: FakeClock
  cert: string
  key: string
  /** Reply to the n-th PUSH_REQUEST (1-based) with this; earlier ones are ignored. */
  pushReplyOn?: number
  pushReply?: string
  /** Send this instead of a PUSH_REPLY (e.g. "AUTH_FAILED"). */
  reject?: string
}

export class FakeServer {
  readonly sid = new Uint8Array(randomBytes(8))
  clientSid?: Uint8Array
  pushRequests = 0
  pings = 0
  dataIn: Uint8Array[] = []
  /** When true, the server drops everything (dead peer). */
  dead = false
  clientUser?: string
  private rel: Reliable
  private tlsSock?: tls.TLSSocket
  private duplex?: Duplex
  private dc?: DataChannel
  private toClient: (b: Uint8Array) => void = () => {}
  private km2Done = false
  private splitter = new MessageSplitter((m) => this.onText(m))

  constructor(private readonly o: FakeServerOptions) {
    this.rel = new Reliable({
      clock: o.clock,
      output: (p) => {
        if (this.dead) return
        const b = encodeControlPacket({ opcode: p.opcode as Opcode, keyId: 0, sessionId: this.sid, acks: p.acks, remoteSessionId: p.acks.length ? this.clientSid : undefined, packetId: p.packetId, payload: p.payload })
        this.toClient(b)
      },
      deliver: (op, payload) => this.deliver(op, payload),
    })
  }

  /** The client's end of a transport joined to this server (delivery on the next macrotask). */
  transport(): Transport {
    let rx: (m: Uint8Array) => void = () => {}
    let closed = false
    this.toClient = (b) => setImmediate(() => !closed && rx(b))
    return {
      description: 'fake 127.0.0.1:1194',
      send: (m) => {
        const copy = m.slice()
        setImmediate(() => !closed && this.input(copy))
        return true
      },
      attach: (r) => {
        rx = r
      },
      close: () => {
        closed = true
      },
    }
  }

  private input(b: Uint8Array): void {
    if (this.dead) return
    if (isDataOpcode(opcodeOf(b[0]))) {
      const p = this.dc?.decrypt(b)
      if (!p) return
      if (p.length === 16 && p.every((x, i) => x === PING_MAGIC[i])) this.pings++
      else {
        this.dataIn.push(p)
        this.toClient(this.dc!.encrypt(p)) // echo
      }
      return
    }
    const p = parseControlPacket(b, 0, b.length)
    if (!p) return
    if (p.opcode === Opcode.P_CONTROL_HARD_RESET_CLIENT_V2) this.clientSid = p.sessionId
    this.rel.receive(p.opcode, p.packetId, p.acks, p.payload)
  }

  private deliver(op: number, payload: Uint8Array): void {
    if (op === Opcode.P_CONTROL_HARD_RESET_CLIENT_V2) {
      this.rel.send(Opcode.P_CONTROL_HARD_RESET_SERVER_V2, new Uint8Array(0))
      this.startTls()
    } else if (op === Opcode.P_CONTROL_V1) this.duplex?.push(Buffer.from(payload))
  }

  private startTls(): void {
    const rel = this.rel
    this.duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        for (let o = 0; o < chunk.length; o += 1000) rel.send(Opcode.P_CONTROL_V1, new Uint8Array(chunk.subarray(o, o + 1000)))
        cb()
      },
    })
    this.tlsSock = new tls.TLSSocket(this.duplex, { isServer: true, secureContext: tls.createSecureContext({ cert: this.o.cert, key: this.o.key }) })
    this.tlsSock.on('error', () => {})
    this.tlsSock.on('data', (d: Buffer) => this.onPlain(new Uint8Array(d)))
  }

  private onPlain(b: Uint8Array): void {
    if (!this.km2Done) {
      // client key-method 2: 0(4) 2(1) pre_master(48) random1(32) random2(32) options user pass peer-info
      let o = 5 + 112
      const strs: string[] = []
      for (let i = 0; i < 4 && o + 2 <= b.length; i++) {
        const n = readU16(b, o)
        strs.push(Buffer.from(b.subarray(o + 2, o + 2 + Math.max(0, n - 1))).toString())
        o += 2 + n
      }
      this.clientUser = strs[1]
      this.km2Done = true
      const srv = new Uint8Array(5 + 64 + 2 + 3 + 2 + 2 + 2)
      srv[4] = 2
      srv.set(randomBytes(64), 5)
      srv.set([0, 3, 0x56, 0x34, 0], 69)
      this.tlsSock!.write(srv)
      if (o < b.length) this.splitter.push(b.subarray(o))
      return
    }
    this.splitter.push(b)
  }

  private onText(m: string): void {
    if (m !== 'PUSH_REQUEST') return
    this.pushRequests++
    if (this.o.reject) return void this.tlsSock!.write(encodeText(this.o.reject))
    if (this.pushRequests < (this.o.pushReplyOn ?? 1)) return
    const reply = this.o.pushReply ?? 'PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,topology subnet,route 10.9.0.0 255.255.0.0,peer-id 3,cipher AES-256-GCM,protocol-flags tls-ekm,ping 10,ping-restart 60'
    const exportKm = this.tlsSock!.exportKeyingMaterial as (n: number, label: string) => Buffer
    const k = exportKm.call(this.tlsSock, 256, EXPORT_KEY_DATA_LABEL)
    this.dc = new DataChannel({ cipher: 'AES-256-GCM', keys: splitKey2(new Uint8Array(k), true), keyId: 0, peerId: 3 })
    this.tlsSock!.write(encodeText(reply))
  }

  close(): void {
    this.dead = true
    this.rel.close()
    this.tlsSock?.destroy()
  }
}
