// renew --notify-cmd: the person's own command (a pager, a ticket, a chat CLI), run as every admin
// command is (shell-command.ts). The JSON document arrives on stdin; the event and tenant also as
// variables.
import { runShellCommand } from '../shell-command.js';

export const NOTIFY_CMD_TIMEOUT_MS = 30_000;

/** Run `cmd` with `json` on stdin; throws one line when it fails, times out or cannot start. */
export async function runNotifyCommand(cmd: string, json: string, vars: Record<string, string>): Promise<void> {
  await runShellCommand(cmd, {
    flag: '--notify-cmd',
    name: 'xsoar-cert-notify',
    timeoutMs: NOTIFY_CMD_TIMEOUT_MS,
    input: json,
    vars,
  });
}
