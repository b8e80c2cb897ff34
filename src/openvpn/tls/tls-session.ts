// TLS over the OpenVPN control channel (OpenVPN source ssl.c / ssl_verify.c, openvpn(8)
// "TLS Mode Options"): node:tls runs on a custom Duplex whose bytes travel as P_CONTROL_V1
// payloads through the reliability layer. Certificate checks beyond chain validation:
// remote-cert-tls server (extended key usage TLS Web Server Authentication + key usage present),
// verify-x509-name (subject / name / name-prefix), tls-version-min/max.
import { Duplex } from 'node:stream'
import { X509Certificate } from 'node:crypto'
import * as tls from 'node:tls'
import { BurrowError, ErrorCode } from '../../core/errors.js'

export interface TlsCredentials {
  /** PEM CA bundle. */
  ca?: string
  /** PEM client certificate (plus chain). */
  cert?: string
  /** PEM private key (possibly encrypted; see passphrase). */
  key?: string
  /** PKCS#12 bundle. */
  pkcs12?: Uint8Array
  /** Passphrase for an encrypted key / pkcs12 (askpass). */
  passphrase?: string
  /** Extra intermediate certs sent with ours. */
  extraCerts?: string
  /** 'server' → require EKU serverAuth and a key-usage extension. */
  remoteCertTls?: 'server' | 'client'
  /** verify-x509-name. */
  verifyX509Name?: { name: string; type: 'subject' | 'name' | 'name-prefix' }
  /** '1.0' | '1.1' | '1.2' | '1.3' */
  tlsVersionMin?: string
  tlsVersionMax?: string
  /** OpenSSL cipher list for TLS ≤ 1.2 (tls-cipher) and TLS 1.3 suites (tls-ciphersuites). */
  tlsCipher?: string
  tlsCiphersuites?: string
}

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

function tlsVer(v: string | undefined): tls.SecureVersion | undefined {
  if (!v) return undefined
  const map: Record<string, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' }
  const r = map[v]
  if (!r) throw new BurrowError(ErrorCode.ERR_CONFIG, `unsupported TLS version ${v}`)
  return r
}

/** OpenVPN-style subject string: "C=US, ST=CA, O=Org, CN=name". */
export function openvpnSubject(cert: X509Certificate): string {
  return cert.subject
    .split('\n')
    .filter(Boolean)
    .join(', ')
}

function commonName(cert: X509Certificate): string | undefined {
  for (const part of cert.subject.split('\n')) if (part.startsWith('CN=')) return part.slice(3)
  return undefined
}

/** True when the DER contains the keyUsage extension OID (2.5.29.15). */
function hasKeyUsage(der: Uint8Array): boolean {
  for (let i = 0; i + 5 <= der.length; i++) {
    if (der[i] === 0x06 && der[i + 1] === 0x03 && der[i + 2] === 0x55 && der[i + 3] === 0x1d && der[i + 4] === 0x0f) return true
  }
  return false
}

/** The extra certificate checks OpenVPN performs on the peer; throws ERR_AUTH naming the failure. */
export function verifyPeerCertificate(der: Uint8Array, creds: TlsCredentials): void {
  const cert = new X509Certificate(der)
  if (creds.remoteCertTls) {
    const want = creds.remoteCertTls === 'server' ? OID_SERVER_AUTH : OID_CLIENT_AUTH
    const eku = cert.keyUsage ?? []
    if (!eku.includes(want)) {
      throw new BurrowError(ErrorCode.ERR_AUTH, `remote-cert-tls ${creds.remoteCertTls}: peer certificate "${openvpnSubject(cert)}" lacks extended key usage ${want}`)
    }
    if (!hasKeyUsage(der)) {
      throw new BurrowError(ErrorCode.ERR_AUTH, `remote-cert-tls ${creds.remoteCertTls}: peer certificate "${openvpnSubject(cert)}" has no key usage extension`)
    }
  }
  const v = creds.verifyX509Name
  if (v) {
    const cn = commonName(cert)
    const ok =
      v.type === 'subject' ? openvpnSubject(cert) === v.name : v.type === 'name' ? cn === v.name : cn !== undefined && cn.startsWith(v.name)
    if (!ok) {
      throw new BurrowError(ErrorCode.ERR_AUTH, `verify-x509-name ${v.name} ${v.type}: peer certificate is "${openvpnSubject(cert)}"`)
    }
  }
}

/** The Duplex node:tls writes ciphertext into and we push received ciphertext from. */
export class ControlDuplex extends Duplex {
  constructor(private readonly sink: (chunk: Uint8Array) => void) {
    super()
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sink(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    cb()
  }
  override _final(cb: (err?: Error | null) => void): void {
    cb()
  }
  /** Ciphertext received from the peer (in order). */
  feed(b: Uint8Array): void {
    this.push(Buffer.from(b))
  }
}

export interface TlsOverControl {
  socket: tls.TLSSocket
  duplex: ControlDuplex
  /** Resolves when the handshake completed and the peer certificate passed every check. */
  ready: Promise<void>
}

/** Start a TLS client over a control-channel Duplex. `sink` receives ciphertext to send. */
export function startTlsClient(creds: TlsCredentials, sink: (chunk: Uint8Array) => void): TlsOverControl {
  const duplex = new ControlDuplex(sink)
  const opts: tls.ConnectionOptions = {
    socket: duplex,
    ca: creds.ca,
    cert: creds.cert ? (creds.extraCerts ? creds.cert + '\n' + creds.extraCerts : creds.cert) : undefined,
    key: creds.key,
    pfx: creds.pkcs12 ? Buffer.from(creds.pkcs12) : undefined,
    passphrase: creds.passphrase,
    minVersion: tlsVer(creds.tlsVersionMin) ?? 'TLSv1.2',
    maxVersion: tlsVer(creds.tlsVersionMax),
    ciphers: creds.tlsCipher,
    rejectUnauthorized: true,
    // OpenVPN does not match the server's host name; identity comes from verify-x509-name
    checkServerIdentity: () => undefined,
  }
  if (creds.tlsCiphersuites) {
    // node takes TLS 1.3 suites in the same `ciphers` list
    opts.ciphers = [creds.tlsCiphersuites, creds.tlsCipher].filter(Boolean).join(':')
  }
  let socket: tls.TLSSocket
  try {
    socket = tls.connect(opts)
  } catch (e) {
    throw new BurrowError(ErrorCode.ERR_CONFIG, `TLS setup failed: ${(e as Error).message}`, { cause: e })
  }
  const ready = new Promise<void>((resolve, reject) => {
    const onErr = (e: Error) => {
      const code = (e as { code?: string }).code ?? ''
      const authish = /CERT|VERIFY|SIGNATURE|ALERT|UNABLE_TO/i.test(code + e.message)
      reject(new BurrowError(authish ? ErrorCode.ERR_AUTH : ErrorCode.ERR_PROTOCOL, `TLS handshake failed: ${e.message}`, { cause: e }))
    }
    socket.once('error', onErr)
    socket.once('secureConnect', () => {
      socket.off('error', onErr)
      try {
        const peer = socket.getPeerX509Certificate()
        if (!peer) throw new BurrowError(ErrorCode.ERR_AUTH, 'server presented no certificate')
        verifyPeerCertificate(peer.raw, creds)
        resolve()
      } catch (e) {
        reject(e)
      }
    })
  })
  ready.catch(() => {})
  return { socket, duplex, ready }
}
