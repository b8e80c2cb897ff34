// Joins a netstack TcpConn and a Node net.Socket with backpressure both ways and half-close:
// a full socket pauses the TcpConn (its receive window shrinks); a full TcpConn pauses the socket.
import type { Socket } from 'node:net'
import type { TcpConn } from '../netstack/api.js'

export function pipeConnSocket(conn: TcpConn, sock: Socket, onDone?: () => void): void {
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    onDone?.()
  }
  let connClosed = false
  conn.onData = (b) => {
    if (!sock.write(b)) conn.pause()
  }
  sock.on('drain', () => conn.resume())
  sock.on('data', (d: Buffer) => {
    if (!conn.write(d)) sock.pause()
  })
  conn.onDrain = () => sock.resume()
  conn.onEnd = () => sock.end()
  sock.on('end', () => conn.end())
  conn.onClose = (err) => {
    connClosed = true
    if (err) sock.destroy()
    else if (!sock.destroyed) sock.end()
    finish()
  }
  sock.on('error', () => {
    /* surfaced through 'close' */
  })
  sock.on('close', (hadError) => {
    if (!connClosed && hadError) conn.destroy()
    finish()
  })
}
