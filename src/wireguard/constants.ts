// WireGuard protocol constants, under the names of the WireGuard paper (§5.4.*, §6) and
// wireguard-go's device/constants.go. Times are in milliseconds (the paper gives seconds).

/** Noise protocol name hashed into the initial chaining key (paper §5.4). */
export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'
/** Prologue identifier hashed into the initial hash (paper §5.4). */
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com'
/** mac1 key label (paper §5.4.4). */
export const LABEL_MAC1 = 'mac1----'
/** cookie encryption key label (paper §5.4.7). */
export const LABEL_COOKIE = 'cookie--'

/** After this many messages the initiator of a session starts a new handshake (paper §6.1). */
export const REKEY_AFTER_MESSAGES = 2 ** 60
/** A session is never used for more messages than this (2^64 − 2^13 − 1, paper §6.1). */
export const REJECT_AFTER_MESSAGES = 2 ** 64 - 2 ** 13 - 1
/** The initiator rekeys a session older than this when sending (paper §6.1). */
export const REKEY_AFTER_TIME = 120_000
/** A session older than this is never used (paper §6.1). */
export const REJECT_AFTER_TIME = 180_000
/** Handshakes are retried for this long before giving up (paper §6.1). */
export const REKEY_ATTEMPT_TIME = 90_000
/** Retransmit an unanswered handshake initiation after this (plus jitter, paper §6.1). */
export const REKEY_TIMEOUT = 5_000
/** Send a keepalive when data was received but nothing was sent for this long (paper §6.5). */
export const KEEPALIVE_TIMEOUT = 10_000
/** Lifetime of a received cookie and rotation period of the cookie secret (paper §5.4.7). */
export const COOKIE_REFRESH_TIME = 120_000

/** Upper bound of the random jitter added to REKEY_TIMEOUT (wireguard-go: 334 ms). */
export const REKEY_TIMEOUT_JITTER_MAX = 334
/** Handshake retransmissions before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT
/** Minimum interval between two initiations accepted from one peer (wireguard-go: 50 per second). */
export const HANDSHAKE_INITIATION_RATE = 20
/** Transport plaintexts are zero-padded to a multiple of this (paper §5.4.6). */
export const PADDING_MULTIPLE = 16
/** Packets queued while no session exists (wireguard-go QueueStagedSize). */
export const MAX_STAGED_PACKETS = 128

/** Message types (paper §5.4.2–§5.4.7). */
export const MessageType = {
  HANDSHAKE_INITIATION: 1,
  HANDSHAKE_RESPONSE: 2,
  COOKIE_REPLY: 3,
  TRANSPORT_DATA: 4,
} as const
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

export const HANDSHAKE_INITIATION_SIZE = 148
export const HANDSHAKE_RESPONSE_SIZE = 92
export const COOKIE_REPLY_SIZE = 64
/** Transport header: type(1) reserved(3) receiver(4) counter(8). */
export const TRANSPORT_HEADER_SIZE = 16
/** Poly1305 tag. */
export const AEAD_TAG_SIZE = 16
/** Smallest transport message: header + tag of an empty (keepalive) payload. */
export const TRANSPORT_MIN_SIZE = TRANSPORT_HEADER_SIZE + AEAD_TAG_SIZE

export const KEY_LEN = 32
export const TAI64N_LEN = 12
