#!/usr/bin/env python3
# Independent reference for WireGuard handshake vectors (WireGuard paper §5.4), written against the
# paper with Python's hashlib/hmac (BLAKE2s) and pyca/cryptography (X25519, ChaCha20-Poly1305);
# XChaCha20-Poly1305 via an HChaCha20 written here from draft-irtf-cfrg-xchacha §2.2.
# Prints the vectors that test/wireguard/noise.test.ts and cookie.test.ts compare against.
import hashlib, hmac, struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

def HASH(*p): return hashlib.blake2s(b''.join(p), digest_size=32).digest()
def MAC(k, m): return hashlib.blake2s(m, digest_size=16, key=k).digest()
def HMAC(k, m): return hmac.new(k, m, hashlib.blake2s).digest()
def KDF(n, k, x):
    t0 = HMAC(k, x); out = []; prev = b''
    for i in range(1, n + 1):
        prev = HMAC(t0, prev + bytes([i])); out.append(prev)
    return out
def pub(priv): return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
def DH(priv, pubk): return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pubk))
def AEAD(k, ctr, pt, ad): return ChaCha20Poly1305(k).encrypt(b'\0' * 4 + struct.pack('<Q', ctr), pt, ad)

def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
def qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)
def hchacha20(key, n16):
    s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] + list(struct.unpack('<8I', key)) + list(struct.unpack('<4I', n16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack('<8I', *(s[0:4] + s[12:16]))
def XAEAD(k, n24, pt, ad): return ChaCha20Poly1305(hchacha20(k, n24[:16])).encrypt(b'\0' * 4 + n24[16:], pt, ad)

C = b'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'; ID = b'WireGuard v1 zx2c4 Jason@zx2c4.com'
def h(x): return bytes.fromhex(x)

# fixed inputs
Si_priv = h('a8' + '11' * 30 + '51'); Sr_priv = h('b0' + '22' * 30 + '62')
Ei_priv = h('c0' + '33' * 30 + '73'); Er_priv = h('d0' + '44' * 30 + '84')
psk = h('55' * 32)
ts = h('400000006553f10a07000000')
I_i = 0x11223344; I_r = 0xaabbccdd
Si_pub, Sr_pub, Ei_pub, Er_pub = pub(Si_priv), pub(Sr_priv), pub(Ei_priv), pub(Er_priv)

def initiation():
    Ci = HASH(C); Hi = HASH(HASH(Ci + ID) + Sr_pub)
    Ci, = KDF(1, Ci, Ei_pub); Hi = HASH(Hi + Ei_pub)
    Ci, k = KDF(2, Ci, DH(Ei_priv, Sr_pub)); st = AEAD(k, 0, Si_pub, Hi); Hi = HASH(Hi + st)
    Ci, k = KDF(2, Ci, DH(Si_priv, Sr_pub)); tsc = AEAD(k, 0, ts, Hi); Hi = HASH(Hi + tsc)
    m = struct.pack('<B3xI', 1, I_i) + Ei_pub + st + tsc
    m += MAC(HASH(b'mac1----' + Sr_pub), m)
    return m + b'\0' * 16, Ci, Hi

def response(Ci, Hi, q):
    Cr, Hr = Ci, Hi
    Cr, = KDF(1, Cr, Er_pub); Hr = HASH(Hr + Er_pub)
    Cr, = KDF(1, Cr, DH(Er_priv, Ei_pub)); Cr, = KDF(1, Cr, DH(Er_priv, Si_pub))
    Cr, tau, k = KDF(3, Cr, q); Hr = HASH(Hr + tau)
    e = AEAD(k, 0, b'', Hr); Hr = HASH(Hr + e)
    m = struct.pack('<B3xII', 2, I_r, I_i) + Er_pub + e
    m += MAC(HASH(b'mac1----' + Si_pub), m)
    T1, T2 = KDF(2, Cr, b'')
    return m + b'\0' * 16, T1, T2

init, Ci, Hi = initiation()
print('Si_pub', Si_pub.hex()); print('Sr_pub', Sr_pub.hex())
print('initiation', init.hex())
for name, q in (('nopsk', b'\0' * 32), ('psk', psk)):
    resp, T1, T2 = response(Ci, Hi, q)
    print(f'response_{name}', resp.hex()); print(f'T_send_i_{name}', T1.hex()); print(f'T_recv_i_{name}', T2.hex())
    if name == 'psk':
        # initiator's first transport messages: keepalive (counter 0), then a 28-byte IPv4 packet
        # padded to 32 (counter 1)
        print('keepalive0_psk', (struct.pack('<B3xIQ', 4, I_r, 0) + AEAD(T1, 0, b'', b'')).hex())
        pkt = h('4500001c000100004001000' + '00a0900020a0900010800f7fe00010000')
        print('transport1_psk', (struct.pack('<B3xIQ', 4, I_r, 1) + AEAD(T1, 1, pkt + b'\0' * 4, b'')).hex())
        # responder's first message back (counter 0), same packet with addresses swapped
        back = h('4500001c000100004001000' + '00a0900010a0900020800f7fe00010000')
        print('transport_r0_psk', (struct.pack('<B3xIQ', 4, I_i, 0) + AEAD(T2, 0, back + b'\0' * 4, b'')).hex())

# cookie reply from the responder to the initiation above, source 192.0.2.1:51820
Rm = h('66' * 32); nonce = h('77' * 24)
src = bytes([192, 0, 2, 1]) + struct.pack('<H', 51820)
tau = MAC(Rm, src)
mac1 = init[116:132]
reply = struct.pack('<B3xI', 3, I_i) + nonce + XAEAD(HASH(b'cookie--' + Sr_pub), nonce, tau, mac1)
print('cookie', tau.hex()); print('cookie_reply', reply.hex())
# the same initiation re-sent with mac2 (mac1 over the same bytes, mac2 = MAC(cookie, msg[0:132]))
print('initiation_mac2', MAC(tau, init[:132]).hex())
print('hchacha20_draft', hchacha20(bytes(range(32)), h('000000090000004a0000000031415927')).hex())
