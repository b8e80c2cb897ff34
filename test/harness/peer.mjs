// Test scaffolding: real Linux-TCP peers run inside a test namespace with
// `ip netns exec NS node peer.mjs MODE ...`. Payloads are a deterministic AES-128-CTR keystream
// (see pattern.ts, which the tests use to know the expected sha256). Prints one status line per
// event on stdout. Never used by the product.
//
//   http PORT BYTES SEED        HTTP/1.1 server: GET /blob → BYTES of pattern(SEED)
//   sink PORT                   per connection: hash all input; at EOF print and reply "sink N SHA\n", end
//   halfclose PORT              per connection: send "hello", shutdown(SHUT_WR), hash input, print at EOF
//   source PORT BYTES SEED      per connection: send BYTES of pattern(SEED) (or until the peer leaves), end
//   recv HOST PORT MAXBYTES MAXSEC   client: connect, count bytes until EOF/limits, print "recv N MS"
//   count PORT                  per connection: count input from accept to EOF, print "count N MS"
//   send HOST PORT MAXBYTES MAXSEC   client: send pattern until MAXBYTES or MAXSEC, then end
import { createCipheriv, createHash } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'

const [mode, ...args] = process.argv.slice(2)
const CHUNK = 256 * 1024

function keystream(seed) {
  const key = createHash('sha256').update(`burrow-pattern-${seed}`).digest().subarray(0, 16)
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(CHUNK)
  return (n) => c.update(n === CHUNK ? zeros : zeros.subarray(0, n))
}

/** Write `total` bytes of the pattern to a writable with backpressure; cb when done or aborted. */
function pump(w, total, seed, cb) {
  const next = keystream(seed)
  let left = total
  let aborted = false
  w.on('close', () => {
    aborted = true
  })
  const go = () => {
    while (left > 0 && !aborted) {
      const n = Math.min(CHUNK, left)
      left -= n
      if (!w.write(next(n))) return void w.once('drain', go)
    }
    if (!aborted) cb()
  }
  go()
}

function listen(server, port) {
  server.listen({ port: Number(port), host: '::', ipv6Only: false }, () => console.log(`listening ${port}`))
}

if (mode === 'http') {
  const [port, bytes, seed] = args
  const server = http.createServer((req, res) => {
    if (req.url !== '/blob') {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes })
    pump(res, Number(bytes), seed, () => res.end())
  })
  listen(server, port)
} else if (mode === 'sink') {
  listen(
    net.createServer((s) => {
      const h = createHash('sha256')
      let n = 0
      s.on('data', (d) => {
        n += d.length
        h.update(d)
      })
      s.on('end', () => {
        const line = `sink ${n} ${h.digest('hex')}`
        console.log(line)
        s.end(`${line}\n`)
      })
      s.on('error', (e) => console.log(`sink error ${e.code}`))
    }),
    args[0],
  )
} else if (mode === 'halfclose') {
  listen(
    net.createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256')
      let n = 0
      s.end('hello') // shutdown(SHUT_WR) after the data; reading continues
      s.on('data', (d) => {
        n += d.length
        h.update(d)
      })
      s.on('end', () => {
        console.log(`halfclose ${n} ${h.digest('hex')}`)
        s.destroy()
      })
      s.on('error', (e) => console.log(`halfclose error ${e.code}`))
    }),
    args[0],
  )
} else if (mode === 'source') {
  const [port, bytes, seed] = args
  listen(
    net.createServer((s) => {
      s.on('error', () => {})
      const t0 = performance.now()
      pump(s, Number(bytes), seed, () => {
        s.end()
        console.log(`source sent ${bytes} in ${(performance.now() - t0).toFixed(0)}ms`)
      })
    }),
    port,
  )
} else if (mode === 'recv') {
  const [host, port, maxBytes, maxSec] = args
  const s = net.connect({ host, port: Number(port) })
  let n = 0
  let t0 = 0
  let done = false
  const finish = () => {
    if (done) return
    done = true
    console.log(`recv ${n} ${(performance.now() - t0).toFixed(1)}`)
    s.destroy()
  }
  s.on('connect', () => {
    t0 = performance.now()
    setTimeout(finish, Number(maxSec) * 1000).unref()
  })
  s.on('data', (d) => {
    n += d.length
    if (n >= Number(maxBytes)) finish()
  })
  s.on('end', finish)
  s.on('error', (e) => {
    console.log(`recv error ${e.code}`)
    process.exitCode = 1
  })
} else if (mode === 'count') {
  listen(
    net.createServer((s) => {
      const t0 = performance.now()
      let n = 0
      s.on('data', (d) => {
        n += d.length
      })
      s.on('end', () => {
        console.log(`count ${n} ${(performance.now() - t0).toFixed(1)}`)
        s.end()
      })
      s.on('error', (e) => console.log(`count error ${e.code}`))
    }),
    args[0],
  )
} else if (mode === 'send') {
  const [host, port, maxBytes, maxSec] = args
  const s = net.connect({ host, port: Number(port) })
  s.on('error', (e) => {
    console.log(`send error ${e.code}`)
    process.exitCode = 1
  })
  s.on('connect', () => {
    let left = Number(maxBytes)
    const next = keystream('send')
    const stopAt = performance.now() + Number(maxSec) * 1000
    const go = () => {
      while (left > 0 && performance.now() < stopAt) {
        const n = Math.min(CHUNK, left)
        left -= n
        if (!s.write(next(n))) return void s.once('drain', go)
      }
      s.end()
      console.log('send done')
    }
    go()
  })
  s.on('data', () => {})
} else {
  console.error(`peer.mjs: unknown mode ${mode}`)
  process.exit(2)
}
