// Every inquirer call lives here; loaded only on a TTY.
import type { Change } from '../ops/txn/types.js';
import type { Reporter } from '../ops/reporter.js';

export async function confirmPrompt(message: string, dflt = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message, default: dflt }, { output: process.stderr });
}

/** A transaction's plan, then "Proceed?"; yes without asking for --yes, cron and scripts. */
export async function askToProceed(c: Change, out: Reporter, yes?: boolean): Promise<boolean> {
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) return true;
  out.info('The plan:');
  c.steps.forEach((s, i) => out.info(`  ${i + 1}. ${s}`));
  out.info('  on any failure: put the current secret back and restart again.');
  return confirmPrompt('Proceed?');
}
