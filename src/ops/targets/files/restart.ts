// --restart-cmd: the admin's own command (systemctl restart demisto, nginx -s reload), run as the
// DNS hook is (sources/acme-challenges.ts): /bin/sh -c, our environment less every XSOAR_CERT_*
// variable (child-env.ts: no passphrase or key reaches it), a deadline, its output read bounded.
import { childEnv } from '../../../child-env.js';

const MAX_OUTPUT = 64 * 1024;

/** Run `cmd`; throws one line (the exit status and the last line it wrote) when it fails or times out. */
// Not cancelled by Ctrl-C: a service stopped half-way is worse than a restart that ends; the engine
// stops once it returns, and the rollback restarts it again.
export async function runRestart(cmd: string, timeoutS: number): Promise<void> {
  const { execa } = await import('execa');
  const r = await execa('/bin/sh', ['-c', cmd, 'xsoar-cert-restart'], {
    env: childEnv(),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: timeoutS * 1000,
    maxBuffer: MAX_OUTPUT,
    stripFinalNewline: true,
  });
  if (r.exitCode === 0 && !r.isMaxBuffer) return;
  const last = String(r.stderr || r.stdout || '')
    .trim()
    .split('\n')
    .pop()
    ?.slice(0, 300);
  const why = r.timedOut
    ? `did not finish within ${timeoutS} s`
    : r.isMaxBuffer
      ? `wrote more than ${MAX_OUTPUT / 1024} KiB`
      : `exited ${r.exitCode ?? r.signal ?? 'without starting'}`;
  throw new Error(`--restart-cmd ${why}${last ? `: ${last}` : ''}`);
}
