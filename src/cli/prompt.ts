// Console prompts for secrets an .ovpn leaves to be typed in (openvpn(8) --auth-user-pass,
// --askpass, proxy authfile "stdin"), as OpenVPN asks on its console: only when stdin is a
// terminal; the terminal is put in raw mode while asking so a password is never echoed (a
// username is echoed by us). Typed-ahead input is kept for the next question.
import type { PromptFn, PromptRequest } from '../openvpn/credentials.js'

/** The parts of process.stdin / process.stderr a prompt needs (tests pass fakes). */
export interface PromptInput {
  readonly isTTY?: boolean
  isRaw?: boolean
  setRawMode?(mode: boolean): unknown
  on(ev: 'data', fn: (d: Buffer | string) => void): unknown
  off(ev: 'data', fn: (d: Buffer | string) => void): unknown
  resume(): unknown
  pause(): unknown
}
export interface PromptOutput {
  write(s: string): unknown
}

export class PromptAborted extends Error {
  override name = 'PromptAborted'
}

/** A prompt on this terminal, or undefined when `input` is not a terminal (then no prompt is possible). */
export function ttyPrompt(input: PromptInput, output: PromptOutput): PromptFn | undefined {
  if (!input.isTTY || typeof input.setRawMode !== 'function') return undefined
  let pending = ''
  let skipLf = false
  let busy: Promise<unknown> = Promise.resolve()

  const ask = (req: PromptRequest): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      let answer = ''
      const wasRaw = input.isRaw ?? false
      // echo off before the question is shown (as getpass(3)): whatever is typed once it is
      // visible must never reach the terminal's own echo
      input.setRawMode!(true)
      output.write(`${req.message} `)
      const finish = (err?: Error) => {
        input.off('data', onData)
        input.setRawMode!(wasRaw)
        input.pause()
        output.write('\n')
        if (err) reject(err)
        else resolve(answer)
      }
      // returns true when the answer is complete (the rest stays in `pending`)
      const consume = (text: string): boolean => {
        const chars = [...text]
        for (let i = 0; i < chars.length; i++) {
          const ch = chars[i]
          if (skipLf && ch === '\n') {
            skipLf = false
            continue
          }
          skipLf = false
          if (ch === '\r' || ch === '\n') {
            skipLf = ch === '\r'
            pending = chars.slice(i + 1).join('')
            return true
          }
          if (ch === '\u0003') throw new PromptAborted('interrupted (Ctrl-C) while asking for credentials')
          if (ch === '\u0004' && answer === '') throw new PromptAborted('end of input (Ctrl-D) while asking for credentials')
          if (ch === '\u007f' || ch === '\b') {
            if (answer) {
              answer = [...answer].slice(0, -1).join('')
              if (req.echo) output.write('\b \b')
            }
            continue
          }
          if (ch === '\u0015') {
            if (req.echo) output.write('\b \b'.repeat([...answer].length))
            answer = ''
            continue
          }
          if (ch < ' ') continue
          answer += ch
          if (req.echo) output.write(ch)
        }
        pending = ''
        return false
      }
      const onData = (d: Buffer | string) => {
        try {
          if (consume(typeof d === 'string' ? d : d.toString('utf8'))) finish()
        } catch (e) {
          pending = ''
          finish(e as Error)
        }
      }
      try {
        if (pending && consume(pending)) {
          input.setRawMode!(wasRaw)
          output.write('\n')
          resolve(answer)
          return
        }
      } catch (e) {
        input.setRawMode!(wasRaw)
        output.write('\n')
        reject(e as Error)
        return
      }
      input.on('data', onData)
      input.resume()
    })

  // one question at a time
  return (req) => {
    const next = busy.then(() => ask(req))
    busy = next.catch(() => {})
    return next
  }
}
