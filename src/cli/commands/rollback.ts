// `xsoar-cert rollback`: put a previous version back, through the same transaction (ops/rollback.ts).
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import { addConfirmFlag, addTargetFlags, SETTINGS_HELP } from '../target-flags.js';
import type { SettingFlags } from '../../ops/settings.js';
import { addFileFlags, FILES_HELP } from '../file-flags.js';
import type { FileTargetFlags } from '../../ops/targets/files/presets.js';

export interface RollbackFlags extends SettingFlags, FileTargetFlags {
  to?: string;
  timeout: string;
  confirm?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('rollback')
    .description(
      'restore the previous certificate (the newest backup, or --to NAME); the current one becomes a backup in turn',
    )
    .option('--to <backup>', 'the backup secret to restore (default: the newest; see status)');
  addFileFlags(addConfirmFlag(addTargetFlags(cmd)), false)
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--dry-run', 'show what would be restored; change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print only the result')
    .addHelpText(
      'after',
      SETTINGS_HELP +
        FILES_HELP +
        helpAfter(
          'xsoar-cert rollback -n xsoar',
          'xsoar-cert rollback --preset xsoar6 --endpoint 127.0.0.1:443',
          'xsoar-cert rollback -n tenant-7 --to xsoar-tls-prev-20261122101500 --yes',
        ),
    )
    .action(async (flags: RollbackFlags) => runRollback(flags));
}

async function runRollback(flags: RollbackFlags): Promise<void> {
  const { parseTimeout } = await import('../target-flags.js');
  const timeoutS = parseTimeout(flags.timeout);
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const { fileTargetOf } = await import('../file-flags.js');
  const files = await fileTargetOf(flags);
  if (files) return (await import('../files-commands.js')).rollbackFiles(flags, files, timeoutS, out);
  const { askToProceed } = await import('../prompts.js');
  const { rollback } = await import('../../ops/rollback.js');
  const r = await rollback(
    {
      where: flags,
      to: flags.to,
      timeoutS,
      dryRun: flags.dryRun,
      noConfirm: flags.confirm === false,
      proceed: (c) => askToProceed(c, out, flags.yes),
    },
    out,
  );
  if (r.kind === 'resolved') {
    out.result('The interrupted change was rolled back; run rollback again to go one version further back.');
    return;
  }
  const { result, from, fingerprint, settings: s } = r;
  if (flags.json) out.emit({ ok: true, restoredFrom: from, ...result });
  else if (result.result === 'dry-run')
    out.result(`Dry run: would restore ${from} (${fingerprint}); nothing was changed.`);
  else
    out.result(
      `Restored ${from}: ${s.namespace}/${s.secret} now holds ${fingerprint}` +
        `${result.confirmed ? ', confirmed served' : ''}; the replaced version is kept as ${result.backup}.`,
    );
}
