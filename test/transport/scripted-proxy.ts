// A scripted proxy on a real loopback socket for the proxy-handshake tests: each accepted
// connection is handed to a handler that waits for bytes or whole request headers and writes
// the proxy's side by hand. Closed by the returned close() (tests register it in afterEach).
import { createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'

/** What the scripted proxy saw on one connection, and whether the client closed it. */
export interface Conn {
  sock: Socket
  /** Resolve once at least `n` bytes (or a CRLFCRLF when n is 'header') arrived; returns all so far. */
  wait(n: number | 'header'): Promise<Buffer>
  /** The next request header block (up to and including CRLFCRLF), consumed. */
  nextRequest(): Promise<string>
  closed: Promise<void>
}

export async function scriptedProxy(handler: (c: Conn, index: number) => Promise<void>): Promise<{ port: number; conns: Conn[]; close: () => void }> {
  const conns: Conn[] = []
  const server: Server = createServer((sock) => {
    let buf = Buffer.alloc(0)
    let wake: (() => void) | undefined
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      wake?.()
    })
    sock.on('error', () => {})
    const closed = once(sock, 'close').then(() => {})
    const waitUntil = async (ok: () => boolean) => {
      while (!ok()) await new Promise<void>((r) => (wake = r))
    }
    const c: Conn = {
      sock,
      closed,
      async wait(n) {
        await waitUntil(() => (n === 'header' ? buf.includes('\r\n\r\n') : buf.length >= n))
        return buf
      },
      async nextRequest() {
        await waitUntil(() => buf.includes('\r\n\r\n'))
        const end = buf.indexOf('\r\n\r\n') + 4
        const req = buf.subarray(0, end).toString('latin1')
        buf = buf.subarray(end)
        return req
      },
    }
    conns.push(c)
    handler(c, conns.length - 1).catch(() => sock.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = () => {
    for (const c of conns) c.sock.destroy()
    server.close()
  }
  return { port: (server.address() as { port: number }).port, conns, close }
}
