// Test scaffolding: the services of the vpn-lan topology's "lan" namespace (see vpn-lan.ts), run as
// `ip netns exec LAN node vpn-lan-services.mjs HOST HTTPPORT UDPPORT`. Never used by the product.
//
//   GET  /                       a small HTML page (contains "burrow vpn-lan page")
//   GET  /bytes?n=N&seed=S       N bytes of pattern(S) (same keystream as pattern.ts), with content-length
//   POST (any path)              hashes the body; replies "sha256 N HEX\n"
//   UDP HOST:UDPPORT             echoes every datagram back; prints "udp LEN from ADDR:PORT TEXT" (TEXT: first
//                                64 bytes as latin1, for the test to check what arrived)
// Prints "ready http PORT udp PORT" once both listen.
import { createCipheriv, createHash } from 'node:crypto'
import dgram from 'node:dgram'
import http from 'node:http'

const [host, httpPort, udpPort] = process.argv.slice(2)
const CHUNK = 256 * 1024
const PAGE = '<!doctype html><title>burrow vpn-lan</title><p>burrow vpn-lan page: only reachable through the VPN</p>\n'

function keystream(seed) {
  const key = createHash('sha256').update(`burrow-pattern-${seed}`).digest().subarray(0, 16)
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(CHUNK)
  return (n) => c.update(n === CHUNK ? zeros : zeros.subarray(0, n))
}

function pump(res, total, seed) {
  const next = keystream(seed)
  let left = total
  let aborted = false
  res.on('close', () => {
    aborted = true
  })
  const go = () => {
    while (left > 0 && !aborted) {
      const n = Math.min(CHUNK, left)
      left -= n
      if (!res.write(next(n))) return void res.once('drain', go)
    }
    if (!aborted) res.end()
  }
  go()
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'POST' || req.method === 'PUT') {
    const h = createHash('sha256')
    let n = 0
    req.on('data', (d) => {
      n += d.length
      h.update(d)
    })
    req.on('end', () => {
      const body = `sha256 ${n} ${h.digest('hex')}\n`
      console.log(`http POST ${n}`)
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body)
    })
    return
  }
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(PAGE) }).end(PAGE)
    return
  }
  if (url.pathname === '/bytes') {
    const n = Number(url.searchParams.get('n') ?? '0')
    const seed = url.searchParams.get('seed') ?? '0'
    if (!Number.isSafeInteger(n) || n < 0) {
      res.writeHead(400).end('bad n\n')
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) })
    pump(res, n, seed)
    return
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
})

const udp = dgram.createSocket('udp4')
udp.on('message', (msg, rinfo) => {
  console.log(`udp ${msg.length} from ${rinfo.address}:${rinfo.port} ${msg.subarray(0, 64).toString('latin1').replace(/[^\x20-\x7e]/g, '.')}`)
  udp.send(msg, rinfo.port, rinfo.address)
})

let pending = 2
const ready = () => {
  if (--pending === 0) console.log(`ready http ${httpPort} udp ${udpPort}`)
}
server.listen({ port: Number(httpPort), host }, ready)
udp.bind(Number(udpPort), host, ready)
