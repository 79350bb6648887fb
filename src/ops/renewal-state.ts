// What unattended renewal remembers per tenant between cron runs, in the state dir
// (renewals/NS__SECRET.json, 0600, written whole): the last check, the last attempt and its result,
// the last success, the failures since it, when the next attempt may be made (backoff), and when a
// person was last told the certificate is expiring. `status`, `check`, the metrics file and the
// notifications read it; a "not due" run only moves lastCheck.
import { readdirSync } from 'node:fs';
import { InputError } from '../errors.js';
import { ensureStateFolder, readStateFile, stateFolder, tenantFile, writeStateFile } from '../state-dir.js';

export interface Attempt {
  at: string;
  /** 'renewed', 'dry-run', or the failure: 'rolled-back', 'refused', 'ca-refused', 'failed', 'cancelled'. */
  result: string;
  exitCode: number;
  error?: string;
}

export interface RenewalState {
  namespace: string;
  secret: string;
  lastCheck?: string;
  lastAttempt?: Attempt;
  lastSuccess?: string;
  /** Failed attempts since the last success. */
  failures: number;
  /** The first failure of the current run of failures. */
  failingSince?: string;
  /** No attempt before this (unless --force): the backoff, or the CA's Retry-After. */
  nextAttempt?: string;
  /** The installed certificate's expiry, as last read. */
  notAfter?: string;
  /** When an "expiring" notification last went out (at most one a day). */
  lastExpiringNotice?: string;
}

const file = (ns: string, secret: string) => tenantFile('renewals', ns, secret, 'json');

const isDate = (v: unknown) =>
  v === undefined || (typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v)));

function valid(s: Partial<RenewalState>, ns: string, secret: string): s is RenewalState {
  const a = s.lastAttempt;
  const attemptOk =
    a === undefined ||
    (isDate(a.at) &&
      typeof a.result === 'string' &&
      a.result.length <= 32 &&
      Number.isInteger(a.exitCode) &&
      (a.error === undefined || (typeof a.error === 'string' && a.error.length <= 2000)));
  return (
    s.namespace === ns &&
    s.secret === secret &&
    Number.isInteger(s.failures) &&
    (s.failures as number) >= 0 &&
    attemptOk &&
    [s.lastCheck, s.lastSuccess, s.failingSince, s.nextAttempt, s.notAfter, s.lastExpiringNotice].every(isDate)
  );
}

/** The tenant's renewal state (a fresh one when none was kept); a damaged file is one line naming it. */
export function readRenewalState(ns: string, secret: string): RenewalState {
  const f = file(ns, secret);
  const text = stateFolder('renewals', false) ? readStateFile(f, { maxBytes: 64 * 1024 }) : undefined;
  if (text === undefined) return { namespace: ns, secret, failures: 0 };
  let s: Partial<RenewalState> | undefined;
  try {
    s = JSON.parse(text) as Partial<RenewalState>;
  } catch {
    s = undefined;
  }
  if (!s || !valid(s, ns, secret))
    throw new InputError(`${f}: the renewal state of ${ns}/${secret} is damaged`, {
      file: f,
      hint: 'Delete it: the next run starts a fresh record (the audit log keeps the history).',
    });
  return s;
}

export function writeRenewalState(s: RenewalState): void {
  ensureStateFolder('renewals');
  writeStateFile(file(s.namespace, s.secret), JSON.stringify(s, null, 2) + '\n');
}

/** Every tenant with a kept state (for status, check and the metrics of a fleet). */
export function allRenewalStates(): RenewalState[] {
  const d = stateFolder('renewals', false);
  if (!d) return [];
  // Namespaces are RFC 1123 labels (no "_"): the first "__" separates the secret's name.
  const names = readdirSync(d).filter((n) => /^[a-z0-9-]+__[a-z0-9.-]+\.json$/.test(n));
  return names.map((n) => {
    const [ns, rest] = [n.slice(0, n.indexOf('__')), n.slice(n.indexOf('__') + 2, -'.json'.length)];
    return readRenewalState(ns, rest);
  });
}

export const BACKOFF_FIRST_MS = 3600_000;
export const BACKOFF_MAX_MS = 24 * 3600_000;

/**
 * After failure number `failures` (1, 2, …): 1 h, doubling, at most 24 h (certbot and acme.sh retry
 * daily; a CA's rate limits count failed orders). A CA's Retry-After sets the wait directly.
 */
export function backoffMs(failures: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), BACKOFF_MAX_MS);
  return Math.min(BACKOFF_FIRST_MS * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS);
}

/** The state after an attempt that ended with `attempt` (pure). */
export function afterAttempt(s: RenewalState, attempt: Attempt, retryAfterMs?: number): RenewalState {
  const ok = attempt.exitCode === 0;
  if (ok)
    return {
      ...s,
      lastAttempt: attempt,
      lastCheck: attempt.at,
      lastSuccess: attempt.at,
      failures: 0,
      failingSince: undefined,
      nextAttempt: undefined,
    };
  const failures = s.failures + 1;
  const next = new Date(Date.parse(attempt.at) + backoffMs(failures, retryAfterMs)).toISOString();
  return {
    ...s,
    lastAttempt: attempt,
    lastCheck: attempt.at,
    failures,
    failingSince: s.failingSince ?? attempt.at,
    nextAttempt: next,
  };
}
