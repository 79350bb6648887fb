// Every renewal attempt on record, and the backoff that follows a failed one. A renew run that
// acts leaves an audit record whatever its end (the engine records what it refused or changed;
// a failure before the engine is recorded here), and the tenant's renewal state (renewal-state.ts)
// keeps the last check, attempt and success. After a failure, later cron runs do not try again
// (nor contact the CA) until the backoff has passed, unless --force.
import { EXIT, CaError, XsoarCertError } from '../errors.js';
import { appendAudit } from '../audit/log.js';
import type { Reporter } from './reporter.js';
import type { Target } from './fleet.js';
import { afterAttempt, readRenewalState, writeRenewalState, type Attempt } from './renewal-state.js';

/** A skipped run's result: renew.ts's RenewResult for 'skipped'. */
export interface Skipped {
  action: 'skipped';
  reason: string;
  namespace: string;
  secret: string;
  fingerprint?: string;
  renewAt: string;
  notAfter?: string;
  /** Set when the run waited out a backoff. */
  nextAttempt?: string;
}

/** Within the backoff after a failed attempt: the skipped result to return instead of trying (no CA contact). */
export function backingOff(t: Target, o: { force?: boolean; now?: Date }, out: Reporter): Skipped | undefined {
  if (o.force) return undefined;
  const s = readRenewalState(t.namespace, t.secret);
  const now = o.now ?? new Date();
  if (!s.nextAttempt || Date.parse(s.nextAttempt) <= now.getTime()) return undefined;
  const last = s.lastAttempt
    ? ` (last: exit ${s.lastAttempt.exitCode}${s.lastAttempt.error ? `, ${s.lastAttempt.error}` : ''})`
    : '';
  const reason =
    `renewal failing since ${s.failingSince}, ${s.failures} attempt(s)${last}; ` +
    `next attempt after ${s.nextAttempt} (--force to try now)`;
  out.warn(`${t.namespace}/${t.secret}: ${reason}`);
  return {
    action: 'skipped',
    reason,
    namespace: t.namespace,
    secret: t.secret,
    renewAt: s.nextAttempt,
    nextAttempt: s.nextAttempt,
  };
}

const RESULT_OF: Record<number, string> = {
  [EXIT.CA]: 'ca-refused',
  [EXIT.ROLLED_BACK]: 'rolled-back',
  [EXIT.ROLLBACK_FAILED]: 'rollback-failed',
  [EXIT.BUSY]: 'busy',
  [EXIT.CANCELLED]: 'cancelled',
};

export const exitCodeOf = (err: unknown): number => (err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL);

export interface RunEnd {
  /** What the run returned for this tenant (skipped, renewed), or its failure. */
  skipped?: Skipped;
  renewed?: { notAfter?: string };
  error?: unknown;
  /** The failure came from the engine, which has recorded it already. */
  inEngine?: boolean;
}

/** Keep the tenant's renewal state after this run, and the audit record of a failure the engine did not see. */
export function remember(t: Target, end: RunEnd, now = new Date()): void {
  try {
    const s = readRenewalState(t.namespace, t.secret);
    const at = now.toISOString();
    if (end.skipped && !end.skipped.nextAttempt) {
      writeRenewalState({ ...s, lastCheck: at, notAfter: end.skipped.notAfter ?? s.notAfter });
      return;
    }
    if (end.skipped) return; // waited out a backoff: nothing new to keep
    const code = end.error === undefined ? 0 : exitCodeOf(end.error);
    const error =
      end.error === undefined ? undefined : String((end.error as Error)?.message ?? end.error).slice(0, 2000);
    const attempt: Attempt = { at, result: code ? (RESULT_OF[code] ?? 'refused') : 'renewed', exitCode: code, error };
    const retryAfterS = end.error instanceof CaError ? end.error.retryAfterS : undefined;
    const next = afterAttempt(s, attempt, retryAfterS === undefined ? undefined : retryAfterS * 1000);
    writeRenewalState({ ...next, notAfter: end.renewed?.notAfter ?? next.notAfter });
    if (code && !end.inEngine) {
      appendAudit({
        op: 'renew',
        namespace: t.namespace,
        secret: t.secret,
        durationMs: 0,
        result: 'refused',
        error,
        exitCode: code,
      });
    }
  } catch {
    // The run's own outcome is what the user must see; a state dir that cannot take the record was already
    // refused by the engine, or will be by the next change.
  }
}
