// Test scaffolding: the built CLI on a pseudo-terminal (util-linux script(1)), so its prompts for
// secrets (src/cli/prompt.ts) appear and can be answered as a user types them. Never used by the
// product.
import { startProc, type Proc } from './netns.js'
import { cliPath } from './wg-server.js'

/** `node dist/cli/main.js --config CFG --http 127.0.0.1:0 --socks 127.0.0.1:0` on a pty. */
export function startCliOnPty(cfg: string): Proc {
  const cmd = `'${process.execPath}' '${cliPath()}' --config '${cfg}' --http 127.0.0.1:0 --socks 127.0.0.1:0`
  return startProc('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } })
}

/** Type each answer once its prompt has appeared on the terminal, as a user would. */
export async function answerPrompts(proc: Proc, qa: [RegExp, string][], timeoutMs = 10_000): Promise<void> {
  for (const [re, text] of qa) {
    await proc.waitFor(re, timeoutMs)
    proc.child.stdin!.write(`${text}\r`)
  }
}

/** Ctrl-C on the terminal: the CLI shuts down as on SIGINT. */
export async function stopOnPty(proc: Proc): Promise<void> {
  proc.child.stdin!.write('\u0003')
  await proc.waitFor(/SIGINT: shutting down/, 5000).catch(() => {})
  await proc.kill()
}
