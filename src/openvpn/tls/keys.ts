// Data-channel key material (OpenVPN source ssl.c generate_key_expansion_tls_export /
// generate_key_expansion_openvpn_prf / openvpn_PRF, crypto.c key_direction_state_init):
//  - TLS-EKM (protocol-flags tls-ekm): RFC 5705 exporter, label "EXPORTER-OpenVPN-datakeys",
//    no context, 256 bytes.
//  - legacy key-method-2 PRF: the TLS 1.0/1.1 PRF (RFC 2246 §5: P_MD5(S1) XOR P_SHA1(S2)) with
//      master = PRF(pre_master, "OpenVPN master secret", client.random1 | server.random1, 48)
//      keys   = PRF(master, "OpenVPN key expansion",
//                   client.random2 | server.random2 | client_sid | server_sid, 256)
// The 256 bytes are two keys of cipher[64] | hmac[64]; for the data channel the client uses
// KEY_DIRECTION_NORMAL (sends with key #0, receives with key #1) and the server INVERSE
// (ssl.c init_key_contexts) — the opposite of the tls-auth / tls-crypt convention.
import { createHmac } from 'node:crypto'
import { concatBytes } from '../../core/bytes.js'
import type { TLSSocket } from 'node:tls'
import type { ClientKeySource, ServerKeySource } from './control.js'

export const EXPORT_KEY_DATA_LABEL = 'EXPORTER-OpenVPN-datakeys'
export const KEY_EXPANSION_ID = 'OpenVPN'
export const KEY2_LEN = 256

function pHash(alg: 'md5' | 'sha1', secret: Uint8Array, seed: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len)
  let a: Uint8Array = createHmac(alg, secret).update(seed).digest()
  let o = 0
  while (o < len) {
    const block = createHmac(alg, secret).update(a).update(seed).digest()
    out.set(block.subarray(0, Math.min(block.length, len - o)), o)
    o += block.length
    a = createHmac(alg, secret).update(a).digest()
  }
  return out
}

/** TLS 1.0 PRF (RFC 2246 §5): secret split in two halves (sharing the middle byte when odd). */
export function tls1Prf(secret: Uint8Array, label: string, seed: Uint8Array, len: number): Uint8Array {
  const half = Math.ceil(secret.length / 2)
  const s1 = secret.subarray(0, half)
  const s2 = secret.subarray(secret.length - half)
  const ls = new Uint8Array(label.length + seed.length)
  ls.set(new TextEncoder().encode(label), 0)
  ls.set(seed, label.length)
  const a = pHash('md5', s1, ls, len)
  const b = pHash('sha1', s2, ls, len)
  for (let i = 0; i < len; i++) a[i] ^= b[i]
  return a
}


/** Legacy OpenVPN PRF key expansion → 256 bytes (key2). */
export function openvpnPrfKeys(client: ClientKeySource, server: ServerKeySource, clientSid: Uint8Array, serverSid: Uint8Array): Uint8Array {
  const master = tls1Prf(client.preMaster, `${KEY_EXPANSION_ID} master secret`, concatBytes(client.random1, server.random1), 48)
  return tls1Prf(master, `${KEY_EXPANSION_ID} key expansion`, concatBytes(client.random2, server.random2, clientSid, serverSid), KEY2_LEN)
}

/** TLS-EKM key expansion → 256 bytes (key2). */
export function ekmKeys(socket: TLSSocket): Uint8Array {
  // no context argument: OpenVPN exports with use_context = 0 (node passes none when undefined)
  const exportKm = socket.exportKeyingMaterial as (len: number, label: string, ctx?: Buffer) => Buffer
  const b = exportKm.call(socket, KEY2_LEN, EXPORT_KEY_DATA_LABEL)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice()
}

export interface DirectionalKeys {
  encryptCipher: Uint8Array // 64
  encryptHmac: Uint8Array // 64
  decryptCipher: Uint8Array
  decryptHmac: Uint8Array
}

/** Split key2 for one side: the client sends with key #0 and receives with key #1. */
export function splitKey2(key2: Uint8Array, server = false): DirectionalKeys {
  const out = server ? 1 : 0
  const inn = server ? 0 : 1
  return {
    encryptCipher: key2.slice(out * 128, out * 128 + 64),
    encryptHmac: key2.slice(out * 128 + 64, out * 128 + 128),
    decryptCipher: key2.slice(inn * 128, inn * 128 + 64),
    decryptHmac: key2.slice(inn * 128 + 64, inn * 128 + 128),
  }
}
