import { expect } from 'vitest'
import { ConfigError } from '../../src/core/errors.js'

/** Run fn, which must throw a ConfigError; return it for assertions on file/line/directive. */
export function catchErr(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return e as ConfigError
  }
  throw new Error('expected a ConfigError')
}
