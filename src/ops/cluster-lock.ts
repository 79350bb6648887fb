// The lock that serializes changes to one secret across admins, hosts and cron jobs: an
// annotation on the secret itself. It is taken by the transaction's own replace (the
// resourceVersion precondition makes only one taker win), kept through the restart, the live
// confirmation and any rollback, and released by one JSON patch whose `test` operation removes
// only our own value. The release answers with the secret, which is also the engine's final
// re-read. A holder that died is taken over after the lock's expiry, or at once on its own host
// when its process is gone.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BusyError, KubectlError } from '../errors.js';
import type { Kubectl, SecretObject } from '../k8s/kubectl.js';
import { pidAlive, procStart } from './state.js';
import { retrying } from './retry.js';

export const LOCK_ANNOTATION = 'xsoar-cert.io/lock';

export interface ClusterLock {
  /** A random id of this run: the value the release tests for. */
  run: string;
  op: string;
  by: string;
  host: string;
  pid: number;
  pidStart?: string;
  since: string;
  expires: string;
}

/** A lock for a run that may take `timeoutS` per rollout: two rollouts (forward and rollback) and a margin. */
export function newLock(op: string, by: string, timeoutS: number, now = new Date()): ClusterLock {
  return {
    run: randomBytes(6).toString('hex'),
    op,
    by,
    host: hostname(),
    pid: process.pid,
    pidStart: procStart(process.pid),
    since: now.toISOString(),
    expires: new Date(now.getTime() + (2 * timeoutS + 120) * 1000).toISOString(),
  };
}

export const lockValue = (l: ClusterLock): string => JSON.stringify(l);

export function parseLock(value: string | undefined): ClusterLock | undefined {
  if (!value) return undefined;
  try {
    const l = JSON.parse(value) as ClusterLock;
    return typeof l.run === 'string' && typeof l.expires === 'string' ? l : undefined;
  } catch {
    return undefined;
  }
}

/** Held by a run that may still be working: not expired, and (on this host) its process alive. */
export function liveHolder(secret: SecretObject, now = new Date()): ClusterLock | undefined {
  const raw = secret.metadata.annotations?.[LOCK_ANNOTATION];
  if (raw === undefined) return undefined;
  const l = parseLock(raw);
  // An unreadable value is not ours to honour for ever; it is taken over like an expired one.
  if (!l || !(Date.parse(l.expires) > now.getTime())) return undefined;
  if (l.host === hostname() && !pidAlive(l.pid, l.pidStart)) return undefined;
  return l;
}

/** Before anything changes: a BusyError (exit 7) naming the holder when another run holds the secret. */
export function assertUnlocked(secret: SecretObject, where: string, now = new Date()): void {
  const l = liveHolder(secret, now);
  if (!l) return;
  throw new BusyError(
    `secret "${secret.metadata.name}" in ${where} is being changed by another xsoar-cert ${l.op} (${l.by}, pid ${l.pid} on ${l.host}, since ${l.since})`,
    `Wait for it to finish (its lock expires at ${l.expires} if it died) and run again. Nothing was changed.`,
  );
}

/** The JSON patch that removes the lock annotation only while it still holds `value` (ours). */
export function releasePatch(value: string): string {
  const path = `/metadata/annotations/${LOCK_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  return JSON.stringify([{ op: 'test', path, value }, { op: 'remove', path }]);
}

/**
 * Release the lock of `lock` (the value this run wrote) and answer with the secret as it is now.
 * The lock may already be gone or another's (taken over after expiry): then the secret is read.
 */
export async function releaseLock(kubectl: Kubectl, name: string, lockJson: string): Promise<SecretObject | undefined> {
  try {
    const r = await retrying(() => kubectl.call('patch', ['secret', name, '--type=json', '-p', releasePatch(lockJson), '-o', 'json']));
    return JSON.parse(r.stdout) as SecretObject;
  } catch (err) {
    if (!(err instanceof KubectlError) && !(err instanceof BusyError)) throw err;
    const live = await retrying(() => kubectl.getSecret(name));
    return live.found ? live.object : undefined;
  }
}
