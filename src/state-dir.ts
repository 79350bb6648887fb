// Where xsoar-cert keeps its local state (locks, markers, the audit log, pending requests): a
// leaf module, so that ops and audit both reach it without importing each other.
import { homedir } from 'node:os';
import path from 'node:path';

export function home(): string {
  // cron may run with HOME unset: os.homedir() falls back to the passwd entry.
  return process.env.HOME || homedir();
}

export function stateDir(): string {
  return process.env.XSOAR_CERT_STATE_DIR || path.join(process.env.XDG_STATE_HOME || path.join(home(), '.local', 'state'), 'xsoar-cert');
}
