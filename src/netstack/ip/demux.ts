// Transport demultiplexing helpers for the stack (RFC 9293 §3.10.7: a connection is identified by
// its four-tuple; RFC 6056 port use): cheap map keys built from address words and ports, the
// FourTuple of tcp/types.ts, and a reference-counted set of local ports.
import { formatIp } from '../addr.js'
import type { FourTuple } from '../tcp/types.js'

/**
 * Map key for (local, lport, remote, rport): a short string of 16-bit char codes (6 for IPv4, 18
 * for IPv6) built without any number formatting, so a lookup per packet stays cheap.
 */
export function tupleKey(local: Uint8Array, lport: number, remote: Uint8Array, rport: number): string {
  if (local.length === 4) {
    return String.fromCharCode(lport, rport, (remote[0] << 8) | remote[1], (remote[2] << 8) | remote[3], (local[0] << 8) | local[1], (local[2] << 8) | local[3])
  }
  let k = String.fromCharCode(lport, rport)
  for (let i = 0; i < 16; i += 2) k += String.fromCharCode((remote[i] << 8) | remote[i + 1], (local[i] << 8) | local[i + 1])
  return k
}

export function keyOfTuple(t: FourTuple): string {
  return tupleKey(t.localAddr, t.localPort, t.remoteAddr, t.remotePort)
}

/** A FourTuple owning copies of the addresses (the originals may be views into packet buffers). */
export function makeTuple(local: Uint8Array, lport: number, remote: Uint8Array, rport: number): FourTuple {
  const l = local.slice()
  const r = remote.slice()
  return {
    localAddr: l,
    localPort: lport,
    remoteAddr: r,
    remotePort: rport,
    family: l.length === 4 ? 4 : 6,
    localAddress: formatIp(l),
    remoteAddress: formatIp(r),
  }
}

/** Local ports in use, reference counted (several connections may share a listener's port). */
export class PortRefs {
  private readonly refs = new Map<number, number>()
  has(port: number): boolean {
    return this.refs.has(port)
  }
  hold(port: number): void {
    this.refs.set(port, (this.refs.get(port) ?? 0) + 1)
  }
  drop(port: number): void {
    const n = (this.refs.get(port) ?? 0) - 1
    if (n > 0) this.refs.set(port, n)
    else this.refs.delete(port)
  }
  clear(): void {
    this.refs.clear()
  }
}
