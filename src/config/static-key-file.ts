// OpenVPN static key file ("-----BEGIN OpenVPN Static key V1-----", openvpn(8) --secret and
// --genkey; OpenVPN 2.6 src/openvpn/crypto.c read_key_file): hex between the header and footer
// lines, whitespace ignored, 2048 bits = two keys of cipher[64] || hmac[64] each.

import { ConfigError } from '../core/errors.js'

export const STATIC_KEY_HEAD = '-----BEGIN OpenVPN Static key V1-----'
export const STATIC_KEY_FOOT = '-----END OpenVPN Static key V1-----'
/** One key = 64 cipher bytes + 64 HMAC bytes. */
export const STATIC_ONE_KEY_LEN = 128
/** A full key file: two keys (2048 bits). */
export const STATIC_KEY_LEN = 256

/**
 * Parse the text of a static key file. Errors name `file` and the offending line: for a key in
 * its own file pass that file and firstLine 1; for an inline <secret> block pass the config file
 * and the line number of the block's first body line. Returns 256 bytes, or 128 bytes when the
 * file holds a single key (usable only without a key direction).
 */
export function parseStaticKeyFile(text: string, file: string, firstLine = 1, directive = 'secret'): Uint8Array {
  const line = firstLine
  const lines = text.split('\n')
  let begin = -1
  let end = -1
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim()
    if (begin < 0 && l === STATIC_KEY_HEAD) begin = i
    else if (begin >= 0 && l === STATIC_KEY_FOOT) {
      end = i
      break
    }
  }
  if (begin < 0) throw new ConfigError(file, line, directive, `not an OpenVPN static key: missing "${STATIC_KEY_HEAD}" (generate one with: openvpn --genkey secret FILE)`)
  if (end < 0) throw new ConfigError(file, line, directive, `OpenVPN static key is truncated: missing "${STATIC_KEY_FOOT}"`)
  const out = new Uint8Array(STATIC_KEY_LEN)
  let n = 0
  let nib = -1
  for (let i = begin + 1; i < end; i++) {
    const l = lines[i]
    for (let k = 0; k < l.length; k++) {
      const c = l.charCodeAt(k)
      let v: number
      if (c >= 48 && c <= 57) v = c - 48
      else if (c >= 97 && c <= 102) v = c - 87
      else if (c >= 65 && c <= 70) v = c - 55
      else if (c === 32 || c === 9 || c === 13) continue
      else throw new ConfigError(file, firstLine + i, directive, `OpenVPN static key: invalid character ${JSON.stringify(l[k])}`)
      if (n >= STATIC_KEY_LEN) throw new ConfigError(file, line, directive, `OpenVPN static key has more than ${STATIC_KEY_LEN * 8} bits`)
      if (nib < 0) nib = v
      else {
        out[n++] = (nib << 4) | v
        nib = -1
      }
    }
  }
  if (nib >= 0) throw new ConfigError(file, line, directive, 'OpenVPN static key has an odd number of hex digits')
  if (n !== STATIC_KEY_LEN && n !== STATIC_ONE_KEY_LEN) {
    throw new ConfigError(file, line, directive, `OpenVPN static key has ${n * 8} bits; expected ${STATIC_KEY_LEN * 8} (openvpn --genkey secret FILE)`)
  }
  return n === STATIC_KEY_LEN ? out : out.slice(0, n)
}

/** Serialize 256 key bytes in the OpenVPN file format (16 bytes per line), e.g. for fixtures. */
export function formatStaticKeyFile(key: Uint8Array): string {
  let s = `#\n# ${key.length * 8} bit OpenVPN static key\n#\n${STATIC_KEY_HEAD}\n`
  for (let i = 0; i < key.length; i += 16) {
    s += Array.from(key.subarray(i, i + 16), (b) => b.toString(16).padStart(2, '0')).join('') + '\n'
  }
  return s + STATIC_KEY_FOOT + '\n'
}
