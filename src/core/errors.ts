// Errors crossing an API boundary carry a stable string `code` (undici style).

export const ErrorCode = {
  ECONNREFUSED: 'ECONNREFUSED',
  ECONNRESET: 'ECONNRESET',
  ETIMEDOUT: 'ETIMEDOUT',
  EHOSTUNREACH: 'EHOSTUNREACH',
  ENETUNREACH: 'ENETUNREACH',
  EADDRINUSE: 'EADDRINUSE',
  EPIPE: 'EPIPE',
  ECLOSED: 'ECLOSED',
  ENOTFOUND: 'ENOTFOUND',
  EABORTED: 'EABORTED',
  EMSGSIZE: 'EMSGSIZE',
  ERR_CONFIG: 'ERR_CONFIG',
  ERR_PROTOCOL: 'ERR_PROTOCOL',
  ERR_AUTH: 'ERR_AUTH',
  ERR_NOT_IMPLEMENTED: 'ERR_NOT_IMPLEMENTED',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class BurrowError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'BurrowError'
  }
}

/** A configuration error that names the file, line and directive it concerns. */
export class ConfigError extends BurrowError {
  readonly file: string
  readonly line: number
  readonly directive: string
  constructor(file: string, line: number, directive: string, message: string) {
    super(ErrorCode.ERR_CONFIG, `${file}:${line}: ${directive}: ${message}`)
    this.file = file
    this.line = line
    this.directive = directive
    this.name = 'ConfigError'
  }
}
