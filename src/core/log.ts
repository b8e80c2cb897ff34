// Minimal leveled logger. Library code takes a Logger; only src/cli decides where it goes.

export interface Logger {
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
  error(msg: string): void
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

export function consoleLogger(verbose = false, stream: NodeJS.WritableStream = process.stderr): Logger {
  const w = (lvl: string, m: string) => stream.write(`[burrow] ${lvl}${m}\n`)
  return {
    debug: (m) => verbose && w('debug: ', m),
    info: (m) => w('', m),
    warn: (m) => w('warning: ', m),
    error: (m) => w('error: ', m),
  }
}
