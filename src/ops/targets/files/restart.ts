// --restart-cmd: the admin's own command (systemctl restart demisto, nginx -s reload), run as every
// admin command is (shell-command.ts: /bin/sh -c, no XSOAR_CERT_* variable, a deadline, bounded output).
import { runShellCommand } from '../../../shell-command.js';

/** Run `cmd`; throws one line (the exit status and the last line it wrote) when it fails or times out. */
// Not cancelled by Ctrl-C: a service stopped half-way is worse than a restart that ends; the engine
// stops once it returns, and the rollback restarts it again.
export async function runRestart(cmd: string, timeoutS: number): Promise<void> {
  await runShellCommand(cmd, { flag: '--restart-cmd', name: 'xsoar-cert-restart', timeoutMs: timeoutS * 1000 });
}
