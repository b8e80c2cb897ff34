// OpenVPN configuration-file syntax (openvpn(8) "Configuration files" / "Inline files", and
// the tokenizer in OpenVPN 2.6 src/openvpn/options.c parse_line): one directive per line,
// whitespace-separated arguments, "double" quotes (backslash escapes \\ \" and \<space>),
// 'single' quotes (no escapes), comments starting with # or ; at the start of a token, a leading
// "--" on the directive name dropped, and inline blocks <tag> … </tag> whose body becomes the
// single argument. This layer only tokenizes; src/config/ovpn.ts interprets.

import { ConfigError } from '../core/errors.js'

/** One directive as written, with its position. */
export interface OvpnDirective {
  /** Directive name as written (OpenVPN matches names case-sensitively), e.g. "remote", "ca". */
  name: string
  /** Arguments after the name (for an inline block: one argument, the block body). */
  args: string[]
  file: string
  line: number
  /** True when this directive came from an inline block `<name>…</name>`. */
  inline: boolean
}

const MAX_LINE = 256 * 1024
const INITIAL = 0
const UNQUOTED = 1
const DOUBLE = 2
const SINGLE = 3

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\f'
}

/**
 * Split one line into tokens the way OpenVPN does. Returns [] for blank/comment lines.
 * Throws ConfigError on an unterminated quote or a bad backslash escape.
 */
export function tokenizeLine(text: string, file: string, line: number): string[] {
  const out: string[] = []
  let state = INITIAL
  let backslash = false
  let parm = ''
  // Iterate one past the end so a trailing unquoted token is finished (like the C NUL).
  for (let i = 0; i <= text.length; i++) {
    const inch = i < text.length ? text[i] : '\0'
    let outch = ''
    let done = false
    if (!backslash && inch === '\\' && state !== SINGLE) {
      backslash = true
      continue
    }
    if (state === INITIAL) {
      if (inch === '\0') break
      if (!isSpace(inch)) {
        if (!backslash && (inch === ';' || inch === '#')) break // comment
        if (!backslash && inch === '"') state = DOUBLE
        else if (!backslash && inch === "'") state = SINGLE
        else {
          outch = inch
          state = UNQUOTED
        }
      }
    } else if (state === UNQUOTED) {
      if ((!backslash && isSpace(inch)) || inch === '\0') done = true
      else outch = inch
    } else if (state === DOUBLE) {
      if (inch === '\0') break
      if (!backslash && inch === '"') done = true
      else outch = inch
    } else {
      if (inch === '\0') break
      if (inch === "'") done = true
      else outch = inch
    }
    if (backslash && outch) {
      if (!(outch === '\\' || outch === '"' || isSpace(outch))) {
        throw new ConfigError(
          file,
          line,
          out[0] ?? parm,
          `bad backslash escape "\\${outch}" (backslashes escape only \\, " and spaces; write "\\\\" for a literal backslash)`,
        )
      }
    }
    backslash = false
    if (outch) parm += outch
    if (done) {
      out.push(parm)
      parm = ''
      state = INITIAL
    }
  }
  if (state === DOUBLE) throw new ConfigError(file, line, out[0] ?? parm, 'no closing double quote (")')
  if (state === SINGLE) throw new ConfigError(file, line, out[0] ?? parm, "no closing single quote (')")
  if (backslash) throw new ConfigError(file, line, out[0] ?? parm, 'line ends with a dangling backslash')
  return out
}

/**
 * Tokenize a whole configuration text into directives, reading inline blocks.
 * Line numbers are 1-based; an inline block's directive carries the line of its opening tag.
 */
export function lexOvpn(text: string, file: string, firstLine = 1): OvpnDirective[] {
  const lines = text.split('\n')
  const out: OvpnDirective[] = []
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i]
    const lineNo = firstLine + i
    if (i === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1)
    if (raw.length > MAX_LINE) throw new ConfigError(file, lineNo, '', `line longer than ${MAX_LINE} characters`)
    const toks = tokenizeLine(raw, file, lineNo)
    if (toks.length === 0) continue
    if (toks[0].startsWith('--') && toks[0].length >= 3) toks[0] = toks[0].slice(2)
    const t0 = toks[0]
    if (toks.length === 1 && t0.length > 2 && t0[0] === '<' && t0[t0.length - 1] === '>' && t0[1] !== '/') {
      const tag = t0.slice(1, -1)
      const close = `</${tag}>`
      const body: string[] = []
      let j = i + 1
      let found = false
      for (; j < lines.length; j++) {
        if (lines[j].trimStart().startsWith(close)) {
          found = true
          break
        }
        body.push(lines[j])
      }
      if (!found) throw new ConfigError(file, lineNo, tag, `inline block <${tag}> has no closing ${close}`)
      out.push({ name: tag, args: [body.map((l) => l + '\n').join('')], file, line: lineNo, inline: true })
      i = j
      continue
    }
    if (t0.startsWith('</')) throw new ConfigError(file, lineNo, t0, `closing tag ${t0} without an opening tag`)
    out.push({ name: t0, args: toks.slice(1), file, line: lineNo, inline: false })
  }
  return out
}
