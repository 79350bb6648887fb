// The Kubernetes TLS secret target, recovery: the fenced restore of a previous version, and the
// resolution of a marker left by a run that died (SIGKILL, power loss): the next run finishes its
// work, rolling back a change past the backup, or writing the audit record a confirmed one lacks.
import { BusyError, ForeignChangeError } from '../../../errors.js';
import type { Kubectl } from '../../../k8s/kubectl.js';
import type { Reporter as Output } from '../../reporter.js';
import { confirmServed } from '../../../net/served-cert.js';
import { acquireLock, clearMarker, readMarker, pidAlive, type Marker } from '../../state.js';
import { appendAudit, type AuditInput } from '../../../audit/log.js';
import { retrying } from '../../retry.js';
import { LOCK_ANNOTATION, parseLock, releaseLock } from '../../cluster-lock.js';
import { ANN, sameData, secretFingerprint } from './plan.js';
import { restart } from './steps.js';

export interface RollbackSpec {
  namespace: string;
  secret: string;
  data: Record<string, string>;
  /** What this run wrote: restore only over that (or over the backup itself); anything else is someone else's. */
  ours?: Record<string, string>;
  annotations?: Record<string, string>;
  /** This run's in-cluster lock: the restore keeps it (nobody else starts meanwhile) and the end releases it. */
  lock?: string;
  deployments: string[];
  restartNeeded: boolean;
  endpoint?: string;
  servername?: string;
  fingerprint?: string;
  timeoutS: number;
}

/**
 * Put `data` back into the secret, restart, confirm, and re-read before saying so. The restore is
 * always a write (a changed restored-at annotation even when the data is already back): it moves
 * the resourceVersion, so a write of this run still in flight (a PUT whose answer timed out) is
 * refused with 409 when it arrives, instead of landing after the rollback was reported.
 */
export async function rollbackTo(kubectl: Kubectl, spec: RollbackSpec, out: Output): Promise<void> {
  out.step(`Rollback: restoring the previous certificate in ${spec.namespace}/${spec.secret}`);
  for (let round = 0; ; round++) {
    const live = await retrying(() => kubectl.getSecret(spec.secret));
    if (!live.found) throw new Error(`secret ${spec.secret} disappeared`);
    const liveData = live.object.data ?? {};
    const isBackup = sameData(liveData, spec.data);
    if (!isBackup && spec.ours && !sameData(liveData, spec.ours)) {
      const holds = secretFingerprint(live.object) ?? 'no certificate';
      throw new ForeignChangeError(
        `the secret ${spec.namespace}/${spec.secret} now holds another change (${holds}), not this run's: ` +
          'it was left in place, not rolled back',
      );
    }
    const annotations: Record<string, string> = {
      ...(spec.annotations ?? {}),
      [ANN.restoredAt]: `${new Date().toISOString()} pid ${process.pid}`,
    };
    delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
    delete annotations[LOCK_ANNOTATION];
    if (spec.lock) annotations[LOCK_ANNOTATION] = spec.lock;
    try {
      await retrying(() =>
        kubectl.replace({ ...live.object, metadata: { ...live.object.metadata, annotations }, data: spec.data }),
      );
      out.ok(
        isBackup ? 'secret data already the previous version (fenced against late writes)' : 'secret data restored',
      );
      break;
    } catch (err) {
      // 409: something wrote meanwhile (often this run's own late write): read again and decide again.
      if (err instanceof BusyError && round < 3) continue;
      // Nothing to restore and the API refuses writes (so a late write would be refused too): the
      // fence is not needed to make "rolled back" true; the re-read below still checks it.
      if (isBackup && !(err instanceof BusyError)) {
        out.warn(
          `could not write the restored-at fence (${(err as Error).message}); the data is already the previous version`,
        );
        break;
      }
      throw err;
    }
  }
  if (spec.restartNeeded) await restart(kubectl, spec.deployments, spec.timeoutS, out);
  if (spec.endpoint && spec.fingerprint) {
    await out.wait(`handshakes with ${spec.endpoint}`, confirmServed(spec.endpoint, spec.fingerprint, spec.servername));
    out.ok(`${spec.endpoint} serves the previous certificate ${spec.fingerprint} again`);
  }
  // The re-read before "rolled back": the lock release answers with the secret (or it is read).
  const after = spec.lock
    ? await releaseLock(kubectl, spec.secret, spec.lock)
    : await retrying(() => kubectl.getSecret(spec.secret)).then((l) => (l.found ? l.object : undefined));
  if (!after || !sameData(after.data, spec.data)) {
    const holds = after ? (secretFingerprint(after) ?? 'no certificate') : 'nothing';
    throw new Error(
      `after the restore the secret ${spec.namespace}/${spec.secret} holds ${holds}, not the previous version`,
    );
  }
}

type MarkerOptions = { endpoint?: string; servername?: string; timeoutS?: number; dryRun?: boolean };

/** A marker left by a run that died (SIGKILL, power loss): finish the job safely by rolling back. */
export async function resolveMarker(
  kubectl: Kubectl,
  ns: string,
  secret: string,
  out: Output,
  opts: MarkerOptions = {},
): Promise<'none' | 'running' | 'resolved' | 'pending'> {
  const m = readMarker(ns, secret);
  if (!m) return 'none';
  if (m.pid !== process.pid && pidAlive(m.pid, m.pidStart)) return 'running';
  const interrupted = `an earlier ${m.op} (pid ${m.pid}, started ${m.startedAt}) was interrupted at step "${m.step}"`;
  if (opts.dryRun) {
    // A dry run changes nothing, a marker's resolution included: it says what the next real run will do.
    const next =
      m.step === 'confirmed'
        ? 'write its missing audit record'
        : `roll back to ${m.backupName} if the secret was changed`;
    out.warn(`${interrupted}; the next real run will ${next} (dry run: not resolved now)`);
    return 'pending';
  }
  out.warn(`${interrupted}; resolving it`);
  const lock = acquireLock(ns, secret, 'resolve');
  try {
    await finishInterrupted(kubectl, m, ns, secret, out, opts);
    clearMarker(ns, secret);
    return 'resolved';
  } finally {
    lock.release();
  }
}

/** What the interrupted run left undone: its audit record, or the rollback, and the resolve record. */
async function finishInterrupted(
  kubectl: Kubectl,
  m: Marker,
  ns: string,
  secret: string,
  out: Output,
  opts: MarkerOptions,
): Promise<void> {
  const live = await kubectl.getSecret(secret);
  const backup = await kubectl.getSecret(m.backupName);
  const liveFp = live.found ? secretFingerprint(live.object) : undefined;
  if (m.step === 'confirmed' && liveFp === m.newFingerprint) {
    // Killed after the live confirmation, before its record: the change stands; write the record.
    recordConfirmed(m, ns, secret);
    out.ok(`resolved: the interrupted ${m.op} had completed and was confirmed live; its audit record is written now`);
    if (m.lock) await releaseLock(kubectl, secret, m.lock);
    return;
  }
  if (backup.found && (m.step !== 'backup' || liveFp !== m.oldFingerprint)) {
    // Past the backup, the secret may have changed and the proxy restarted with it (or a
    // rollback was cut short between its restore and its restart): finish the rollback whole
    // (restore, restart, confirm), as the transaction would have.
    await rollbackTo(
      kubectl,
      {
        namespace: ns,
        secret,
        data: backup.object.data ?? {},
        deployments: m.deployments,
        restartNeeded: true,
        endpoint: opts.endpoint,
        servername: opts.servername,
        fingerprint: m.oldFingerprint,
        timeoutS: opts.timeoutS ?? 120,
        lock: m.lock,
      },
      out,
    );
    out.ok(`resolved: rolled back to the certificate from before the interrupted ${m.op}`);
  } else {
    out.ok(`resolved: the interrupted ${m.op} had not changed the secret`);
    if (m.lock && live.found && live.object.metadata.annotations?.[LOCK_ANNOTATION] === m.lock)
      await releaseLock(kubectl, secret, m.lock);
  }
  appendAudit({
    op: 'resolve',
    namespace: ns,
    secret,
    context: m.context,
    oldFingerprint: liveFp,
    newFingerprint: m.oldFingerprint,
    result: 'resolved',
    durationMs: 0,
    backup: m.backupName,
    run: parseLock(m.lock)?.run,
  });
}

/** The audit record of a change confirmed live whose run died before writing it. */
function recordConfirmed(m: Marker, ns: string, secret: string): void {
  appendAudit({
    op: m.op as AuditInput['op'],
    namespace: ns,
    secret,
    context: m.context,
    oldFingerprint: m.oldFingerprint,
    newFingerprint: m.newFingerprint,
    result: 'installed',
    durationMs: 0,
    backup: m.backupName,
    run: parseLock(m.lock)?.run,
    error: `recorded by the next run (pid ${process.pid}): the ${m.op} was interrupted after its live confirmation`,
  });
}
