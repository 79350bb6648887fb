// `rollback` as an operation: put a previous version of the secret back through the same
// transaction as install (backup of the current one, fenced write, restart, confirm, audit).
// A marker from a killed run is resolved first: that may already be the rollback wanted.
import { CancelledError, KubectlError } from '../errors.js';
import { Kubectl } from '../k8s/kubectl.js';
import type { SecretObject } from '../k8s/secrets.js';
import { checkK8sName } from '../k8s/names.js';
import type { Reporter } from './reporter.js';
import { resolveSettings, type SettingFlags, type Settings } from './settings.js';
import { executeTransaction } from './txn/run.js';
import type { Change, NewContent, TransactionResult } from './txn/types.js';
import { fingerprintOfPem } from './installed.js';
import { LABEL_PREVIOUS_OF, newestBackupsFirst } from './targets/k8s-secret/plan.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';

export interface RollbackOptions {
  where: SettingFlags;
  /** --to: the backup to restore (default: the newest). */
  to?: string;
  timeoutS: number;
  dryRun?: boolean;
  noConfirm?: boolean;
  /** Asked with the plan, before anything changes. */
  proceed(change: Change): Promise<boolean>;
}

export type RollbackOutcome =
  /** The interrupted change was rolled back, and no --to asks for more. */
  | { kind: 'resolved' }
  | { kind: 'restored'; settings: Settings; from: string; fingerprint: string; result: TransactionResult };

export async function rollback(o: RollbackOptions, out: Reporter): Promise<RollbackOutcome> {
  const s = resolveSettings(o.where);
  if (o.to !== undefined) checkK8sName('backup', o.to, { flag: '--to' });
  const kubectl = new Kubectl({ namespace: s.namespace, context: s.context, kubeconfig: s.kubeconfig });
  const resolved = await resolveMarker(kubectl, s.namespace, s.secret, out, {
    endpoint: s.endpoint,
    servername: s.servername,
    dryRun: o.dryRun,
  });
  if (resolved === 'resolved' && !o.to) return { kind: 'resolved' };
  const chosen = await chooseBackup(kubectl, s, o.to);
  const { content, fingerprint } = backupContent(chosen);
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
      noConfirm: o.noConfirm,
      dryRun: o.dryRun,
      timeoutS: o.timeoutS,
      confirm: (c) => o.proceed(c),
    },
    kubectl,
    out,
  );
  if (result.result === 'cancelled') throw new CancelledError();
  return { kind: 'restored', settings: s, from: chosen.metadata.name, fingerprint, result };
}

async function chooseBackup(kubectl: Kubectl, s: Settings, to: string | undefined): Promise<SecretObject> {
  const backups = newestBackupsFirst(await kubectl.listSecrets(`${LABEL_PREVIOUS_OF}=${s.secret}`));
  const chosen = to ? backups.find((b) => b.metadata.name === to) : backups[0];
  if (chosen) return chosen;
  throw new KubectlError(
    to
      ? `backup "${to}" of ${s.namespace}/${s.secret} not found`
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

/** The backup's data goes back byte-identical, exactly as it was saved. */
function backupContent(chosen: SecretObject): { content: NewContent; fingerprint: string } {
  const info = fingerprintOfPem(Buffer.from(chosen.data?.['tls.crt'] ?? '', 'base64').toString('latin1'));
  if (!info || !chosen.data?.['tls.key'])
    throw new KubectlError(`backup ${chosen.metadata.name} holds no certificate and key`, {
      verb: 'get',
      args: [],
      reason: 'Invalid',
    });
  const content: NewContent = {
    data: { ...chosen.data },
    fingerprint: info.fingerprint,
    notAfter: info.notAfter,
    names: info.names,
    label: `backup ${chosen.metadata.name}`,
  };
  return { content, fingerprint: info.fingerprint };
}
