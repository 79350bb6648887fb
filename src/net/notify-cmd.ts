// renew --notify-cmd: the person's own command (a pager, a ticket, a chat CLI), run as the DNS hook
// is: /bin/sh -c, our environment less every XSOAR_CERT_* secret (child-env.ts), a deadline, its
// output read bounded. The JSON document arrives on stdin; the event and tenant also as variables.
import { childEnv } from '../child-env.js';

export const NOTIFY_CMD_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 64 * 1024;

/** Run `cmd` with `json` on stdin; throws one line when it fails, times out or cannot start. */
export async function runNotifyCommand(cmd: string, json: string, vars: Record<string, string>): Promise<void> {
  const { execa } = await import('execa');
  const r = await execa('/bin/sh', ['-c', cmd, 'xsoar-cert-notify'], {
    env: { ...childEnv(), ...vars },
    extendEnv: false,
    reject: false,
    input: json,
    timeout: NOTIFY_CMD_TIMEOUT_MS,
    maxBuffer: MAX_OUTPUT,
    stripFinalNewline: true,
  });
  if (r.timedOut) throw new Error(`--notify-cmd did not finish within ${NOTIFY_CMD_TIMEOUT_MS / 1000} s`);
  if (r.exitCode === 0 && !r.isMaxBuffer) return;
  const last = String(r.stderr || r.stdout || '')
    .trim()
    .split('\n')
    .pop()
    ?.slice(0, 200);
  const why = r.isMaxBuffer
    ? `wrote more than ${MAX_OUTPUT / 1024} KiB`
    : `exited ${r.exitCode ?? r.signal ?? 'without starting'}`;
  throw new Error(`--notify-cmd ${why}${last ? `: ${last}` : ''}`);
}
