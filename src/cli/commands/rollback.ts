// `xsoar-cert rollback`: put a previous version back, through the same transaction.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import { addConfirmFlag, addTargetFlags, SETTINGS_HELP } from '../target-flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description(
      'restore the previous certificate (the newest backup, or --to NAME); the current one becomes a backup in turn',
    )
    .option('--to <backup>', 'the backup secret to restore (default: the newest; see status)');
  addConfirmFlag(addTargetFlags(cmd))
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--dry-run', 'show what would be restored; change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print only the result')
    .addHelpText(
      'after',
      SETTINGS_HELP +
        helpAfter(
          'xsoar-cert rollback -n xsoar',
          'xsoar-cert rollback -n tenant-7 --to xsoar-tls-prev-20261122101500 --yes',
        ),
    )
    .action(async (flags) => {
      const { runRollback } = await import('./rollback-run.js');
      await runRollback(flags);
    });
}
