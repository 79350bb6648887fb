// The one transaction engine, for N ≥ 1 tenants of one target kind (a single install is a fleet of
// one): open the target (it reads every tenant), plan every tenant and check its endpoint (nothing
// changes), then run each step for every tenant still going: backup → apply (which takes the run's
// lock) → restart → confirm live → release the lock (its answer is the re-read) → record. A tenant
// that fails after it changed is restored alone. The engine keeps the marker a killed run leaves,
// the local lock and the audit record; where the certificate goes is the target's (types.ts).
import {
  BusyError,
  CancelledError,
  EXIT,
  EndpointError,
  ForeignChangeError,
  Interrupted,
  KubectlError,
  TransactionError,
  XsoarCertError,
  CheckFailedError,
} from '../../errors.js';
import type { Reporter } from '../reporter.js';
import { acquireLock, assertStateWritable, clearMarker, self, writeMarker, type Lock, type Marker } from '../state.js';
import { appendAudit, assertAuditWritable, type AuditInput } from '../../audit/log.js';
import { currentAnchor } from '../../audit/anchor.js';
import { lockValue, newLock } from '../cluster-lock.js';
import { bounded } from '../fleet.js';
import { onInterrupt } from '../../signals.js';
import { checkEndpoint, confirmServed } from '../../net/served-cert.js';
import { whoAmI } from '../identity.js';
import type {
  Change,
  Found,
  NewContent,
  PendingContent,
  TargetKind,
  TargetSession,
  TenantRef,
  TransactionResult,
} from './types.js';

export interface EngineTarget extends TenantRef {
  /** The new certificate, or how to obtain it once the tenant passed every check (renew's source). */
  content: NewContent | PendingContent;
}

const isPending = (c: NewContent | PendingContent): c is PendingContent => 'obtain' in c;

export interface EngineOptions {
  op: 'install' | 'rollback' | 'renew';
  targets: EngineTarget[];
  servername?: string;
  context?: string;
  allowNameChange?: boolean;
  /** --no-confirm: endpoints are neither checked before nor confirmed after. */
  noConfirm?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  parallel?: number;
  /** One tenant: asked once its plan is known, before anything changes; false cancels. */
  confirm?: (change: Change, t: TenantRef) => Promise<boolean>;
}

export interface Outcome {
  target: TenantRef;
  ok: boolean;
  error?: XsoarCertError | Error;
  value?: TransactionResult;
  ms: number;
}

/** The engine's own record of one tenant in this run. */
interface Tenant {
  readonly t: EngineTarget;
  readonly started: number;
  found?: Found;
  change?: Change;
  marker?: Marker;
  localLock?: Lock;
  /** The target was (or may have been) written: a failure from here on means a restore. */
  applied: boolean;
  step: Marker['step'];
  error?: Error;
  confirmed: boolean;
  cancelled?: boolean;
}

interface Run {
  o: EngineOptions;
  tenants: Tenant[];
  target: TargetSession;
  out: Reporter;
  lock: string;
  runId: string;
  solo: boolean;
}

/** Read, check and plan, run the plan, and say per tenant what is true afterwards. */
export async function runEngine(o: EngineOptions, kind: TargetKind, out: Reporter): Promise<Outcome[]> {
  const solo = o.targets.length === 1;
  const tenants: Tenant[] = o.targets.map((t) => ({
    t,
    started: Date.now(),
    applied: false,
    step: 'backup',
    confirmed: false,
  }));
  const byRef = new Map<TenantRef, Tenant>(tenants.map((x) => [x.t, x]));
  // Before anything changes a failure of one tenant is final; with one tenant it is simply thrown.
  const refuse = (t: TenantRef, err: unknown) => {
    const x = byRef.get(t)!;
    // In a fleet an unexpected error fails its tenant as a failed check; alone it is thrown as it is.
    const ends =
      solo || err instanceof XsoarCertError ? err : new CheckFailedError(String((err as Error)?.message ?? err));
    if (!o.dryRun) recordRefusal(o, x, ends);
    if (solo) throw err;
    x.error ??= ends as Error;
  };
  const target = await kind.open(o.targets, out, refuse);
  const held = newLock(o.op, whoAmI(), o.timeoutS ?? 120);
  const run: Run = { o, tenants, target, out, lock: lockValue(held), runId: held.run, solo };
  await planAll(run, currentAnchor(held.run), refuse);
  const results = () => tenants.map((x) => outcome(x, o));
  if (o.dryRun) return results();
  const x0 = tenants[0]!;
  if (solo && x0.change!.oldFingerprint === x0.change!.newFingerprint && o.op !== 'rollback')
    out.warn('the new certificate is the one already installed: it will be re-applied');
  if (solo && o.confirm && !(await o.confirm(x0.change!, x0.t))) {
    x0.cancelled = true;
    return results();
  }
  await execute(run);
  return results();
}

/**
 * Check every tenant (the target's checks, then its endpoint serves what is installed), and plan
 * it: at once when its certificate is known, or once a pending one is obtained, which happens only
 * for the tenants that passed every check.
 */
async function planAll(run: Run, anchor: string, refuse: (t: TenantRef, err: unknown) => void): Promise<void> {
  const { o, tenants, target, out, solo } = run;
  const planOne = (x: Tenant, content: NewContent) => {
    const opts = { allowNameChange: o.allowNameChange, confirmEndpoint: !o.noConfirm };
    x.change = target.plan(x.t, content, { lock: run.lock, anchor }, opts);
  };
  for (const x of tenants.filter((y) => !y.error)) {
    try {
      x.found = target.check(x.t);
      if (!isPending(x.t.content)) planOne(x, x.t.content);
    } catch (err) {
      refuse(x.t, err);
      continue;
    }
    if (solo) out.ok(x.found.line);
  }
  if (!o.noConfirm) await checkEndpoints(run, refuse);
  await obtainPending(run, planOne, refuse);
  if (solo) {
    const x = tenants[0]!;
    const next = x.change?.newFingerprint ?? `(${(x.t.content as PendingContent).describe}: not obtained in a dry run)`;
    out.ok(`installed ${x.found!.oldFingerprint ?? '(no certificate)'} → new ${next}`);
    for (const w of x.change?.warnings ?? []) out.warn(w);
  } else {
    const ready = tenants.filter((x) => !x.error).length;
    out.ok(`${ready} of ${tenants.length} tenants ready; ${tenants.length - ready} refused before any change`);
  }
}

/** The pending certificates of the tenants still going, then their plans; a costly one never in a dry run. */
async function obtainPending(
  run: Run,
  planOne: (x: Tenant, content: NewContent) => void,
  refuse: (t: TenantRef, err: unknown) => void,
): Promise<void> {
  const { o, tenants } = run;
  const pending = tenants.filter((x) => !x.error && isPending(x.t.content));
  await bounded(pending, o.parallel ?? 4, async (x) => {
    const source = x.t.content as PendingContent;
    if (o.dryRun && source.costly) return;
    try {
      planOne(x, await source.obtain());
    } catch (err) {
      refuse(x.t, err);
    }
  });
}

/** Each --endpoint answers TLS and serves the installed certificate, before any change. */
async function checkEndpoints(run: Run, refuse: (t: TenantRef, err: unknown) => void): Promise<void> {
  const { o, target, out, solo } = run;
  await bounded(
    run.tenants.filter((x) => !x.error && x.t.endpoint),
    o.parallel ?? 4,
    async (x) => {
      const check = checkEndpoint(
        x.t.endpoint!,
        x.found!.oldFingerprint,
        `${x.t.namespace}/${x.t.secret}`,
        o.servername,
      ).catch(async (err: unknown) => {
        // Served ≠ installed because another run changed the target since it was read: that run is busy with it.
        if (err instanceof EndpointError) await target.recheck(x.t);
        throw err;
      });
      try {
        await (solo ? out.wait(`checking ${x.t.endpoint}`, check) : check);
        if (solo) out.ok(`${x.t.endpoint} answers TLS and serves the installed certificate`);
      } catch (err) {
        refuse(x.t, err);
      }
    },
  );
}

/** Each step for every tenant still going; then restore, record and tidy up. */
async function execute(run: Run): Promise<void> {
  const { o, tenants, target, out } = run;
  const live = () => tenants.filter((x) => !x.error);
  const refs = () => live().map((x) => x.t);
  const byRef = new Map<TenantRef, Tenant>(tenants.map((x) => [x.t, x]));
  const abort = new AbortController();
  // Whatever fails once a signal came (a call it cut short, too) failed because of it.
  const fail = (t: TenantRef, err: unknown, notApplied?: boolean) => {
    const x = byRef.get(t)!;
    if (notApplied) x.applied = false;
    x.error ??= abort.signal.aborted
      ? new Interrupted('interrupted (Ctrl-C / SIGTERM)')
      : err instanceof Error
        ? err
        : new Error(String(err));
  };
  assertStateWritable(); // before any change: markers and locks can be written
  assertAuditWritable(); // and every change gets its record
  const stop = onInterrupt(() => abort.abort());
  target.signal(abort.signal);
  const check = () => {
    if (abort.signal.aborted) throw new Interrupted('interrupted (Ctrl-C / SIGTERM)');
  };
  try {
    takeLocks(run, fail);
    const steps: Array<() => Promise<void>> = [
      () => target.backup(refs(), out, fail),
      () => (mark(live(), 'apply', true), target.apply(refs(), out, fail)),
      () => (mark(live(), 'restart'), target.restart(refs(), o.timeoutS ?? 120, out, fail, check)),
      () => confirmAll(run, live(), fail, abort.signal),
      () => target.release(refs(), out, fail),
    ];
    for (const step of steps) {
      if (!live().length) break;
      await step();
      check();
    }
  } catch (err) {
    // A step failed for every tenant (the cluster unreachable mid-way, a signal, the local lock).
    for (const x of live()) fail(x.t, err);
  } finally {
    stop();
    target.signal(undefined); // the restore must not be aborted by the same signal
  }
  await finish(run, abort.signal.aborted);
}

/** The local lock and the marker of every tenant, before its first write. */
function takeLocks(run: Run, fail: (t: TenantRef, err: unknown) => void): void {
  const { o, tenants, lock } = run;
  const startedAt = new Date().toISOString();
  for (const x of tenants.filter((y) => !y.error)) {
    try {
      x.localLock = acquireLock(x.t.namespace, x.t.secret, o.op);
      const c = x.change!;
      x.marker = {
        ...self(),
        op: o.op,
        namespace: x.t.namespace,
        secret: x.t.secret,
        context: o.context,
        backupName: c.backup,
        oldFingerprint: c.oldFingerprint,
        newFingerprint: c.newFingerprint,
        deployments: c.restarts,
        step: 'backup',
        startedAt,
        lock,
      };
      writeMarker(x.marker);
    } catch (err) {
      if (tenants.length === 1) throw err;
      fail(x.t, err);
    }
  }
}

function mark(xs: Tenant[], step: Marker['step'], applied = false): void {
  for (const x of xs) {
    x.step = step;
    if (applied) x.applied = true; // a write that fails in flight may still have landed: restore either way
    if (x.marker) writeMarker({ ...x.marker, step });
  }
}

/** Each endpoint serves the new certificate over TLS 1.2 and 1.3. */
async function confirmAll(
  run: Run,
  xs: Tenant[],
  fail: (t: TenantRef, err: unknown) => void,
  signal: AbortSignal,
): Promise<void> {
  const { o, out } = run;
  const withEndpoint = xs.filter((x) => x.t.endpoint && !o.noConfirm);
  for (const x of xs) x.step = 'confirm';
  if (!withEndpoint.length) return;
  const solo = xs.length === 1;
  const first = withEndpoint[0]!.t.endpoint;
  out.step(
    solo
      ? `Confirm: ${first} serves the new certificate (TLS 1.2 and 1.3)`
      : `Confirm: ${withEndpoint.length} endpoints serve the new certificate (TLS 1.2 and 1.3)`,
  );
  const all = bounded(withEndpoint, o.parallel ?? 16, async (x) => {
    mark([x], 'confirm');
    try {
      await confirmServed(x.t.endpoint!, x.change!.newFingerprint, o.servername, signal);
      x.confirmed = true;
      if (solo) out.ok(`${x.t.endpoint} serves ${x.change!.newFingerprint} over TLS 1.2 and 1.3`);
    } catch (err) {
      fail(
        x.t,
        solo ? err : new KubectlError(`${x.t.endpoint}: ${(err as Error).message}`, { verb: 'confirm', args: [] }),
      );
    }
  });
  await out.wait(solo ? `handshakes with ${first}` : 'confirming the live certificates', all);
}

/** Restore every tenant that failed after it changed; record every tenant; prune. */
async function finish(run: Run, aborted: boolean): Promise<void> {
  const { o, tenants, target, out, solo } = run;
  for (const x of tenants.filter((y) => y.marker)) {
    if (!x.error) {
      // Confirmed first: a kill before the record makes the next run write it (not roll back).
      writeMarker({ ...x.marker!, step: 'confirmed' });
      audit(run, x, 'installed');
      clearMarker(x.t.namespace, x.t.secret);
    } else if (!x.applied || (x.error instanceof BusyError && x.step === 'apply')) {
      // Only the backup may exist (or a 409: someone else changed it; ours did not land): nothing served changed.
      clearMarker(x.t.namespace, x.t.secret);
      audit(run, x, 'failed', x.error.message);
      if (aborted && !x.applied)
        x.error = new CancelledError(
          `Cancelled (Ctrl-C / SIGTERM) before ${x.t.namespace}/${x.t.secret} was changed: nothing was changed.`,
        );
    }
  }
  const toRestore = tenants.filter(
    (x) => x.marker && x.error && x.applied && !(x.error instanceof BusyError && x.step === 'apply'),
  );
  if (toRestore.length && !solo) out.step(`Rollback: ${toRestore.length} tenants`);
  await bounded(toRestore, o.parallel ?? 8, (x) => restore(run, x));
  for (const x of tenants) x.localLock?.release();
  await target.prune(
    tenants.filter((x) => x.marker && !x.error).map((x) => x.t),
    out,
  );
}

/** One tenant back to its previous version; its error then says what is true now. */
async function restore(run: Run, x: Tenant): Promise<void> {
  const { o, out, solo } = run;
  const reason = x.error!.message;
  const c = x.change!;
  if (solo) out.fail(`${o.op} failed at ${x.step}: ${reason}`);
  writeMarker({ ...x.marker!, step: 'rollback' });
  try {
    await run.target.restore(
      x.t,
      { endpoint: o.noConfirm ? undefined : x.t.endpoint, servername: o.servername, timeoutS: o.timeoutS ?? 120 },
      solo ? out : out.quietCopy(),
    );
  } catch (rb) {
    if (rb instanceof ForeignChangeError) {
      // Not ours to undo: another run installed something after us. Say so; change nothing more.
      clearMarker(x.t.namespace, x.t.secret);
      audit(run, x, 'failed', `${reason}; ${rb.message}`);
      x.error = new BusyError(
        `${o.op} failed at ${x.step} (${reason}); ${rb.message}`,
        'Run "xsoar-cert status" to see what is installed and served now.',
      );
      return;
    }
    audit(run, x, 'rollback-failed', `${reason}; rollback: ${(rb as Error).message}`);
    x.error = new TransactionError(
      `${o.op} failed at ${x.step} (${reason}) AND the rollback failed: ${(rb as Error).message}`,
      false,
      `The previous certificate is kept in secret ${x.t.namespace}/${c.backup}. Restore it with: xsoar-cert rollback -n ${x.t.namespace} --secret ${x.t.secret} --to ${c.backup}`,
    );
    return; // keep the marker: the next run resolves it
  }
  clearMarker(x.t.namespace, x.t.secret);
  audit(run, x, 'rolled-back', reason);
  x.error = new TransactionError(
    `${o.op} failed at ${x.step} (${reason}); rolled back: the previous certificate ${c.oldFingerprint ?? ''} is installed and served again`,
    true,
  );
}

/** A tenant refused before any change is on record too, with why and the exit code it ends with. */
function recordRefusal(o: EngineOptions, x: Tenant, err: unknown): void {
  try {
    appendAudit({
      op: o.op,
      namespace: x.t.namespace,
      secret: x.t.secret,
      context: o.context,
      durationMs: Date.now() - x.started,
      oldFingerprint: x.found?.oldFingerprint,
      result: 'refused',
      error: String((err as Error)?.message ?? err),
      exitCode: exitOf(err as Error),
    });
  } catch {
    // The refusal itself is what the user must see; a log that cannot take it is reported by the next change.
  }
}

function audit(run: Run, x: Tenant, result: AuditInput['result'], error?: string): void {
  const c = x.change;
  appendAudit({
    op: run.o.op,
    namespace: x.t.namespace,
    secret: x.t.secret,
    context: run.o.context,
    durationMs: Date.now() - x.started,
    oldFingerprint: c?.oldFingerprint,
    newFingerprint: c?.newFingerprint,
    result,
    error,
    backup: c?.backup,
    run: run.runId,
  });
}

function outcome(x: Tenant, o: EngineOptions): Outcome {
  const ms = Date.now() - x.started;
  if (x.error) return { target: x.t, ok: false, error: x.error, ms };
  const result = x.cancelled ? 'cancelled' : o.dryRun ? 'dry-run' : 'installed';
  const c = x.change;
  if (!c) {
    // A dry run that did not obtain a costly certificate: what would be obtained, and where it would go.
    const would = { wouldObtain: (x.t.content as PendingContent).describe };
    const f = x.found!;
    const value = {
      namespace: x.t.namespace,
      secret: x.t.secret,
      result,
      oldFingerprint: f.oldFingerprint,
      deployments: f.restarts,
      confirmed: false,
      plan: would,
    } as const;
    return { target: x.t, ok: true, ms, value };
  }
  return {
    target: x.t,
    ok: true,
    ms,
    value: {
      namespace: x.t.namespace,
      secret: x.t.secret,
      result,
      oldFingerprint: c.oldFingerprint,
      newFingerprint: c.newFingerprint,
      backup: result === 'installed' ? c.backup : undefined,
      deployments: c.restarts,
      confirmed: x.confirmed,
      plan: c.detail,
    },
  };
}

/** The exit code of an outcome's error (70 for a bug). */
export const exitOf = (e: Error | undefined): number => (e instanceof XsoarCertError ? e.exitCode : EXIT.INTERNAL);
