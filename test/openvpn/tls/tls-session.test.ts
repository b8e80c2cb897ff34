import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Duplex } from 'node:stream'
import * as tls from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { run, binarySkipReason } from '../../harness/netns.js'
import { openvpnSubject, startTlsClient, verifyPeerCertificate, type TlsCredentials } from '../../../src/openvpn/tls/tls-session.js'

const noOpenssl = binarySkipReason('tls-session.test.ts', ['openssl']) !== null

// Certificates are generated at test time with openssl (nothing committed).
describe.skipIf(noOpenssl)('TLS over the control channel', () => {
  let dir = ''
  const pem: Record<string, string> = {}
  let p12: Uint8Array
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpt-tls-'))
    const f = (n: string) => join(dir, n)
    const o = (...a: string[]) => run('openssl', a)
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=t-ca', '-days', '2')
    writeFileSync(f('srv.ext'), 'keyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n')
    writeFileSync(f('noeku.ext'), 'keyUsage=digitalSignature\n')
    writeFileSync(f('cli.ext'), 'keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n')
    for (const [n, subj, ext] of [
      ['srv', '/C=DE/O=Burrow/CN=vpn-server-01', 'srv.ext'],
      ['noeku', '/CN=vpn-server-02', 'noeku.ext'],
      ['cli', '/CN=client', 'cli.ext'],
    ]) {
      o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${n}.key`), '-out', f(`${n}.csr`), '-subj', subj)
      o('x509', '-req', '-in', f(`${n}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${n}.crt`), '-days', '2', '-extfile', f(ext))
      pem[`${n}.crt`] = readFileSync(f(`${n}.crt`), 'utf8')
      pem[`${n}.key`] = readFileSync(f(`${n}.key`), 'utf8')
    }
    pem['ca.crt'] = readFileSync(f('ca.crt'), 'utf8')
    o('pkcs12', '-export', '-in', f('cli.crt'), '-inkey', f('cli.key'), '-certfile', f('ca.crt'), '-out', f('cli.p12'), '-passout', 'pass:pw')
    p12 = new Uint8Array(readFileSync(f('cli.p12')))
    o('pkey', '-in', f('cli.key'), '-aes256', '-passout', 'pass:secret', '-out', f('cli-enc.key'))
    pem['cli-enc.key'] = readFileSync(f('cli-enc.key'), 'utf8')
  })
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }))

  const der = (n: string) => new X509Certificate(pem[n]).raw

  it('remote-cert-tls server requires EKU serverAuth and key usage', () => {
    expect(() => verifyPeerCertificate(der('srv.crt'), { remoteCertTls: 'server' })).not.toThrow()
    expect(() => verifyPeerCertificate(der('noeku.crt'), { remoteCertTls: 'server' })).toThrow(/extended key usage/)
    expect(() => verifyPeerCertificate(der('cli.crt'), { remoteCertTls: 'server' })).toThrow(/ERR_AUTH|extended key usage/)
  })
  it('verify-x509-name in its three forms', () => {
    const d = der('srv.crt')
    expect(openvpnSubject(new X509Certificate(pem['srv.crt']))).toBe('C=DE, O=Burrow, CN=vpn-server-01')
    const ok = (v: TlsCredentials['verifyX509Name']) => () => verifyPeerCertificate(d, { verifyX509Name: v })
    expect(ok({ name: 'vpn-server-01', type: 'name' })).not.toThrow()
    expect(ok({ name: 'vpn-server', type: 'name' })).toThrow(/verify-x509-name/)
    expect(ok({ name: 'vpn-server', type: 'name-prefix' })).not.toThrow()
    expect(ok({ name: 'vpn-client', type: 'name-prefix' })).toThrow()
    expect(ok({ name: 'C=DE, O=Burrow, CN=vpn-server-01', type: 'subject' })).not.toThrow()
    expect(ok({ name: 'C=DE, O=Other, CN=vpn-server-01', type: 'subject' })).toThrow()
  })

  /** Run our client against a node TLS server joined by in-memory duplexes. */
  async function handshake(creds: TlsCredentials, server: { cert: string; key: string; maxVersion?: tls.SecureVersion }): Promise<{ version: string | null; clientCert?: string }> {
    // the client writes its ClientHello synchronously from startTlsClient: the server side must exist first
    const ref: { c?: ReturnType<typeof startTlsClient> } = {}
    const srvSide = new Duplex({
      read() {},
      write(chunk, _e, cb) {
        ref.c!.duplex.feed(new Uint8Array(chunk))
        cb()
      },
    })
    const client = (ref.c = startTlsClient(creds, (b) => srvSide.push(Buffer.from(b))))
    const srv = new tls.TLSSocket(srvSide, {
      isServer: true,
      secureContext: tls.createSecureContext({ cert: server.cert, key: server.key, ca: pem['ca.crt'], maxVersion: server.maxVersion }),
      requestCert: true,
      rejectUnauthorized: true,
    })
    const srvDone = new Promise<string | undefined>((r) => srv.once('secure', () => r(srv.getPeerX509Certificate()?.subject)))
    srv.on('error', () => {})
    try {
      await client.ready
      return { version: client.socket.getProtocol(), clientCert: await srvDone }
    } finally {
      client.socket.destroy()
      srv.destroy()
    }
  }

  it('handshakes with PEM cert/key, TLS 1.3 and a server limited to 1.2', async () => {
    const creds: TlsCredentials = { ca: pem['ca.crt'], cert: pem['cli.crt'], key: pem['cli.key'], remoteCertTls: 'server', verifyX509Name: { name: 'vpn-server-01', type: 'name' } }
    expect(await handshake(creds, { cert: pem['srv.crt'], key: pem['srv.key'] })).toEqual({ version: 'TLSv1.3', clientCert: 'CN=client' })
    expect((await handshake(creds, { cert: pem['srv.crt'], key: pem['srv.key'], maxVersion: 'TLSv1.2' })).version).toBe('TLSv1.2')
    await expect(handshake({ ...creds, tlsVersionMin: '1.3' }, { cert: pem['srv.crt'], key: pem['srv.key'], maxVersion: 'TLSv1.2' })).rejects.toThrow(/TLS handshake failed/)
  })
  it('handshakes with a PKCS#12 bundle and its passphrase', async () => {
    const r = await handshake({ ca: pem['ca.crt'], pkcs12: p12, passphrase: 'pw' }, { cert: pem['srv.crt'], key: pem['srv.key'] })
    expect(r.clientCert).toBe('CN=client')
  })
  it('uses an encrypted private key with its askpass passphrase, and fails clearly without it', async () => {
    const creds: TlsCredentials = { ca: pem['ca.crt'], cert: pem['cli.crt'], key: pem['cli-enc.key'], passphrase: 'secret' }
    expect((await handshake(creds, { cert: pem['srv.crt'], key: pem['srv.key'] })).clientCert).toBe('CN=client')
    expect(() => startTlsClient({ ...creds, passphrase: 'wrong' }, () => {})).toThrow(/TLS setup failed/)
  })
  it('rejects a server certificate without serverAuth EKU and one from another CA', async () => {
    const creds: TlsCredentials = { ca: pem['ca.crt'], cert: pem['cli.crt'], key: pem['cli.key'], remoteCertTls: 'server' }
    await expect(handshake(creds, { cert: pem['noeku.crt'], key: pem['noeku.key'] })).rejects.toMatchObject({ code: 'ERR_AUTH' })
    await expect(handshake({ ...creds, ca: pem['srv.crt'] }, { cert: pem['srv.crt'], key: pem['srv.key'] })).rejects.toMatchObject({ code: 'ERR_AUTH' })
  })
})
