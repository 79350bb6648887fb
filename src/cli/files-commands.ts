// install, rollback, status and renew with --files / --preset xsoar6: the flags mapped to the files
// target's options (ops/targets/files/run.ts), the questions answered, the outcome rendered.
import type { Output } from './output.js';
import type { InstallFlags } from './commands/install.js';
import type { InstallOptions } from '../ops/install.js';
import type { FileTarget } from '../ops/targets/files/presets.js';
import type { TransactionResult } from '../ops/txn/types.js';
import type { RenewFlags } from './commands/renew.js';
import type { RenewFilesOptions } from '../ops/renew-files.js';

export async function installFiles(flags: InstallFlags, o: InstallOptions, t: FileTarget, out: Output): Promise<void> {
  const ops = await import('../ops/targets/files/run.js');
  const { CheckFailedError, UsageError } = await import('../errors.js');
  if (flags.preset === 'xsoar8') throw new UsageError('--preset xsoar8 is for the Kubernetes secret, not --files');
  if (!o.files.key) throw new UsageError('install --files needs --key FILE');
  const verdict = await ops.verifyForFiles(o.files, out);
  if (!verdict.ok) {
    if (out.json) out.emit({ ok: false, stage: 'verify', report: verdict.report });
    else {
      const { printChecks } = await import('./print-checks.js');
      const { Output } = await import('./output.js');
      printChecks(new Output({ quiet: false }), verdict.report);
    }
    throw new CheckFailedError(
      `${o.files.cert}: not fit to serve: ${verdict.report.failures} check(s) failed; nothing was changed`,
      'Fix the problems above, or run "xsoar-cert verify" for details.',
    );
  }
  const { askToProceed } = await import('./prompts.js');
  const result = await ops.installFiles(
    {
      op: 'install',
      target: t,
      endpoint: flags.endpoint ?? process.env.XSOAR_CERT_ENDPOINT,
      servername: flags.servername ?? o.files.hosts[0],
      accepted: o.files.accept,
      allowNameChange: o.allowNameChange,
      noConfirm: o.noConfirm,
      dryRun: o.dryRun,
      timeoutS: o.timeoutS,
      proceed: (c) => askToProceed(c, out, flags.yes),
    },
    verdict.content,
    out,
  );
  showResult(result, t, out);
}

function showResult(r: TransactionResult, t: FileTarget, out: Output): void {
  if (out.json) return out.emit({ ok: true, files: t.paths, ...r });
  const where = t.paths.key ? `${t.paths.cert}, ${t.paths.key}` : t.paths.cert;
  if (r.result === 'dry-run') {
    out.result('Dry run: nothing was changed. The plan (no key material):');
    out.result(JSON.stringify(r.plan, null, 2));
    return;
  }
  out.result(
    `Installed ${r.newFingerprint} in ${where}${r.confirmed ? ' and confirmed it is served' : ''}; ` +
      `previous version kept as ${r.backup}.`,
  );
}

export interface FilesRollbackFlags {
  to?: string;
  endpoint?: string;
  servername?: string;
  confirm?: boolean;
  dryRun?: boolean;
  yes?: boolean;
}

export async function rollbackFiles(flags: FilesRollbackFlags, t: FileTarget, timeoutS: number, out: Output) {
  const ops = await import('../ops/targets/files/run.js');
  const { askToProceed } = await import('./prompts.js');
  const r = await ops.rollbackFiles(
    {
      op: 'rollback',
      target: t,
      to: flags.to,
      endpoint: flags.endpoint ?? process.env.XSOAR_CERT_ENDPOINT,
      servername: flags.servername,
      noConfirm: flags.confirm === false,
      dryRun: flags.dryRun,
      timeoutS,
      proceed: (c) => askToProceed(c, out, flags.yes),
    },
    out,
  );
  if ('resolved' in r) {
    out.result('The interrupted change was rolled back; run rollback again to go one version further back.');
    return;
  }
  if (out.json) return out.emit({ ok: true, restoredFrom: r.from, files: t.paths, ...r.result });
  if (r.result.result === 'dry-run') return out.result(`Dry run: would restore ${r.from} (${r.fingerprint}).`);
  out.result(
    `Restored ${r.from}: the files now hold ${r.fingerprint}${r.result.confirmed ? ', confirmed served' : ''}; ` +
      `the replaced version is kept as ${r.result.backup}.`,
  );
}

export async function statusFiles(endpoint: string | undefined, t: FileTarget, out: Output): Promise<void> {
  const ops = await import('../ops/targets/files/run.js');
  const s = await ops.filesStatus(t, endpoint ?? process.env.XSOAR_CERT_ENDPOINT, out);
  const { showFilesStatus } = await import('./file-flags.js');
  showFilesStatus(s, out);
  if (s.agree === false) {
    const { CheckFailedError } = await import('../errors.js');
    throw new CheckFailedError(`${s.served!.endpoint} serves another certificate than the files hold`);
  }
}

/** renew --files: one set of files, decided and renewed as a secret is (ops/renew-files.ts). */
export async function renewFilesCommand(
  flags: RenewFlags,
  o: RenewFilesOptions,
  out: Output,
  configured: { notify: boolean },
): Promise<void> {
  const { UsageError } = await import('../errors.js');
  if (flags.namespace?.length || flags.allNamespaces || flags.tenantsFile)
    throw new UsageError('renew --files renews one set of files: -n, -A and --tenants-file are for secrets');
  // The notices and the metrics read each tenant's secret (ops/notify.ts, ops/metrics.ts): not files yet.
  if (configured.notify || flags.metricsFile)
    out.warn('renew --files sends no notifications and writes no --metrics-file (they read secrets only)');
  const { runRenewFiles } = await import('../ops/renew-files.js');
  const r = await runRenewFiles({ ...o, endpoint: flags.endpoint ?? process.env.XSOAR_CERT_ENDPOINT }, out);
  const where = o.target.paths.key ? `${o.target.paths.cert}, ${o.target.paths.key}` : o.target.paths.cert;
  if (out.json) return out.emit({ ok: true, files: o.target.paths, ...r });
  if (r.action === 'skipped') return out.result(`nothing to do: ${where} ${r.reason}`);
  out.result(
    `${r.action === 'dry-run' ? 'would renew' : 'renewed'} ${where} from ${r.from}: ` +
      `${r.transaction.newFingerprint ?? '(not obtained in a dry run)'}` +
      (r.transaction.confirmed ? ', confirmed served' : ''),
  );
}
