import { CancelledError, KubectlError } from '../../errors.js';
import { Output } from '../output.js';
import { resolveSettings, type SettingFlags } from '../../ops/settings.js';
import { Kubectl } from '../../k8s/kubectl.js';
import { checkK8sName } from '../../k8s/names.js';
import { executeTransaction } from '../../ops/txn/run.js';
import type { NewContent } from '../../ops/txn/types.js';
import { fingerprintOfPem } from '../../ops/installed.js';
import { newestBackupsFirst, LABEL_PREVIOUS_OF } from '../../ops/targets/k8s-secret/plan.js';
import { resolveMarker } from '../../ops/targets/k8s-secret/recovery.js';
import { askToProceed } from './install-run.js';

export async function runRollback(
  flags: SettingFlags & {
    to?: string;
    timeout: string;
    confirm?: boolean;
    dryRun?: boolean;
    yes?: boolean;
    json?: boolean;
    quiet?: boolean;
  },
): Promise<void> {
  const { parseTimeout } = await import('../target-flags.js');
  const timeoutS = parseTimeout(flags.timeout);
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  const s = resolveSettings(flags);
  if (flags.to !== undefined) checkK8sName('backup', flags.to, { flag: '--to' });
  const kubectl = new Kubectl({ namespace: s.namespace, context: s.context, kubeconfig: s.kubeconfig });
  // A marker from a killed run is resolved first (that may already be the rollback the user wants).
  const resolved = await resolveMarker(kubectl, s.namespace, s.secret, out, {
    endpoint: s.endpoint,
    servername: s.servername,
    dryRun: flags.dryRun,
  });
  if (resolved === 'resolved' && !flags.to) {
    out.result('The interrupted change was rolled back; run rollback again to go one version further back.');
    return;
  }
  const backups = newestBackupsFirst(await kubectl.listSecrets(`${LABEL_PREVIOUS_OF}=${s.secret}`));
  const chosen = flags.to ? backups.find((b) => b.metadata.name === flags.to) : backups[0];
  if (!chosen) {
    throw new KubectlError(
      flags.to
        ? `backup "${flags.to}" of ${s.namespace}/${s.secret} not found`
        : `no previous version of ${s.namespace}/${s.secret} to roll back to`,
      {
        verb: 'get',
        args: [],
        reason: 'NotFound',
        hint: backups.length
          ? `Backups: ${backups.map((b) => b.metadata.name).join(', ')}`
          : 'Backups are made by install, renew and rollback.',
      },
    );
  }
  const info = fingerprintOfPem(Buffer.from(chosen.data?.['tls.crt'] ?? '', 'base64').toString('latin1'));
  if (!info || !chosen.data?.['tls.key'])
    throw new KubectlError(`backup ${chosen.metadata.name} holds no certificate and key`, {
      verb: 'get',
      args: [],
      reason: 'Invalid',
    });
  // Byte-identical: the backup's data goes back exactly as it was saved.
  const content: NewContent = {
    data: { ...chosen.data },
    fingerprint: info.fingerprint,
    notAfter: info.notAfter,
    names: info.names,
    label: `backup ${chosen.metadata.name}`,
  };
  const result = await executeTransaction(
    {
      op: 'rollback',
      namespace: s.namespace,
      secret: s.secret,
      proxy: s.proxy,
      endpoint: s.endpoint,
      servername: s.servername,
      context: s.context,
      content,
      allowNameChange: true,
      noConfirm: flags.confirm === false,
      dryRun: flags.dryRun,
      timeoutS,
      confirm: (p) => askToProceed(p, out, flags.yes),
    },
    kubectl,
    out,
  );
  if (result.result === 'cancelled') throw new CancelledError();
  if (flags.json) out.emit({ ok: true, restoredFrom: chosen.metadata.name, ...result });
  else if (result.result === 'dry-run')
    out.result(`Dry run: would restore ${chosen.metadata.name} (${info.fingerprint}); nothing was changed.`);
  else
    out.result(
      `Restored ${chosen.metadata.name}: ${s.namespace}/${s.secret} now holds ${info.fingerprint}${result.confirmed ? ', confirmed served' : ''}; the replaced version is kept as ${result.backup}.`,
    );
}
