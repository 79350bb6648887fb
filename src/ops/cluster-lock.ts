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
import type { Kubectl } from '../k8s/kubectl.js';
import type { SecretObject } from '../k8s/secrets.js';
import { pidAlive, procStart } from './state.js';
import { retrying } from './retry.js';

export const LOCK_ANNOTATION = 'xsoar-cert.io/lock';

/** The longest --timeout (seconds): one rollout may take that long, and a lock lives for two of them. */
export const MAX_TIMEOUT_S = 3600;
/**
 * The longest a lock is honoured after its `since`, whatever its `expires` says (two rollouts at the
 * longest timeout and a margin): a lock written with a far expiry (by hand, by a broken clock) does not
 * block a secret for years. Clocks of different hosts may differ: a `since` up to 5 min ahead is accepted.
 */
export const MAX_LOCK_MS = (2 * MAX_TIMEOUT_S + 120) * 1000;
const CLOCK_SKEW_MS = 5 * 60_000;

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
    const text = (v: unknown, max: number) => typeof v === 'string' && v.length <= max && !/[\x00-\x1f\x7f]/.test(v);
    const date = (v: unknown) => typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
    const ok =
      text(l.run, 64) &&
      text(l.op, 32) &&
      text(l.by, 256) &&
      text(l.host, 255) &&
      Number.isSafeInteger(l.pid) &&
      date(l.since) &&
      date(l.expires);
    return ok ? l : undefined;
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
  if (!l) return undefined;
  const since = Date.parse(l.since);
  const until = Math.min(Date.parse(l.expires), since + MAX_LOCK_MS);
  if (since > now.getTime() + CLOCK_SKEW_MS || !(until > now.getTime())) return undefined;
  if (l.host === hostname() && !pidAlive(l.pid, l.pidStart)) return undefined;
  return l;
}

const honouredUntil = (l: ClusterLock) =>
  new Date(Math.min(Date.parse(l.expires), Date.parse(l.since) + MAX_LOCK_MS)).toISOString();

/** Before anything changes: a BusyError (exit 7) naming the holder when another run holds the secret. */
export function assertUnlocked(secret: SecretObject, where: string, now = new Date()): void {
  const l = liveHolder(secret, now);
  if (!l) return;
  throw new BusyError(
    `secret "${secret.metadata.name}" in ${where} is being changed by another xsoar-cert ${l.op} ` +
      `(${l.by}, pid ${l.pid} on ${l.host}, since ${l.since})`,
    `Wait for it to finish (its lock expires at ${honouredUntil(l)} if it died) and run again; ` +
      'to take it over by hand once that run is surely gone: ' +
      `kubectl annotate secret ${secret.metadata.name} -n ${secret.metadata.namespace ?? '<namespace>'} ` +
      `${LOCK_ANNOTATION}- . Nothing was changed.`,
  );
}

/** The JSON patch that removes the lock annotation only while it still holds `value` (ours). */
export function releasePatch(value: string): string {
  const path = `/metadata/annotations/${LOCK_ANNOTATION.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  return JSON.stringify([
    { op: 'test', path, value },
    { op: 'remove', path },
  ]);
}

/**
 * Release the lock of `lock` (the value this run wrote) and answer with the secret as it is now.
 * The lock may already be gone or another's (taken over after expiry): then the secret is read.
 */
export async function releaseLock(kubectl: Kubectl, name: string, lockJson: string): Promise<SecretObject | undefined> {
  try {
    return await retrying(() => kubectl.patchSecretJson(name, releasePatch(lockJson)));
  } catch (err) {
    if (!(err instanceof KubectlError) && !(err instanceof BusyError)) throw err;
    const live = await retrying(() => kubectl.getSecret(name));
    return live.found ? live.object : undefined;
  }
}
