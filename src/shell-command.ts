// The admin's own commands (--restart-cmd, --notify-cmd), run the way the DNS hook is: /bin/sh -c,
// our environment less every XSOAR_CERT_* variable (child-env.ts: no passphrase or key reaches them),
// a deadline, and their output read bounded. A failure is one line: the flag, what happened, and the
// last line the command wrote.
import { childEnv } from './child-env.js';

const MAX_OUTPUT = 64 * 1024;

export interface ShellCommand {
  /** The flag that gave the command, for messages ("--restart-cmd"). */
  flag: string;
  /** $0 of the shell, as `ps` shows it. */
  name: string;
  timeoutMs: number;
  /** Sent on stdin (else stdin is closed). */
  input?: string;
  /** Variables added to the child environment. */
  vars?: Record<string, string>;
}

/** Run `cmd`; throws one line when it fails, times out, writes too much or cannot start. */
export async function runShellCommand(cmd: string, o: ShellCommand): Promise<void> {
  const { execa } = await import('execa');
  const r = await execa('/bin/sh', ['-c', cmd, o.name], {
    env: { ...childEnv(), ...o.vars },
    extendEnv: false,
    reject: false,
    ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
    timeout: o.timeoutMs,
    maxBuffer: MAX_OUTPUT,
    stripFinalNewline: true,
  });
  if (r.exitCode === 0 && !r.isMaxBuffer && !r.timedOut) return;
  const last = String(r.stderr || r.stdout || '')
    .trim()
    .split('\n')
    .pop()
    ?.slice(0, 300);
  const why = r.timedOut
    ? `did not finish within ${o.timeoutMs / 1000} s`
    : r.isMaxBuffer
      ? `wrote more than ${MAX_OUTPUT / 1024} KiB`
      : `exited ${r.exitCode ?? r.signal ?? 'without starting'}`;
  throw new Error(`${o.flag} ${why}${last ? `: ${last}` : ''}`);
}
