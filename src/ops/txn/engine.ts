// The one transaction engine, for N ≥ 1 tenants of one target kind (a single install is a fleet of
// one): open the target (it reads every tenant), plan every tenant and check its endpoint (nothing
// changes), then run each step for every tenant still going: backup → apply (which takes the run's
// lock) → restart → confirm live → release the lock (its answer is the re-read) → record. A tenant
// that fails after it changed is restored alone. The engine keeps the marker a killed run leaves,
// the local lock and the audit record; where the certificate goes is the target's (types.ts).
import { EndpointError, Interrupted, KubectlError, XsoarCertError, CheckFailedError } from '../../errors.js';
import type { Reporter } from '../reporter.js';
import { acquireLock, assertStateWritable, self, writeMarkers, type Marker } from '../state.js';
import { assertAuditWritable } from '../../audit/log.js';
import { currentAnchor } from '../../audit/anchor.js';
import { lockValue, newLock } from '../cluster-lock.js';
import { bounded } from '../../pool.js';
import { onInterrupt } from '../../signals.js';
import { checkEndpoint, confirmServed } from '../../net/served-cert.js';
import { whoAmI } from '../identity.js';
import type { NewContent, PendingContent, TargetKind, TenantRef } from './types.js';
import { isPending, type EngineOptions, type Outcome, type Run, type Tenant } from './tenant.js';
import { finish, outcome, recordRefusal } from './finish.js';

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
      () => (mark(run, live(), 'apply', true), target.apply(refs(), out, fail)),
      () => (mark(run, live(), 'restart'), target.restart(refs(), o.timeoutS ?? 120, out, fail, check)),
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
      writeMarkers([x.marker]);
    } catch (err) {
      if (tenants.length === 1) throw err;
      fail(x.t, err);
    }
  }
}

/**
 * A fleet's markers record only the steps that change what the next run does after a kill
 * (recovery.ts: nothing before 'apply'; from 'apply' to 'confirm' a rollback; 'confirmed' the record):
 * each step is a file per tenant, 0.2 ms each. One tenant's marker also says where it stopped.
 */
function mark(run: Run, xs: Tenant[], step: Marker['step'], applied = false): void {
  for (const x of xs) {
    x.step = step;
    if (applied) x.applied = true; // a write that fails in flight may still have landed: restore either way
  }
  if (!run.solo && step !== 'apply') return;
  writeMarkers(xs.filter((x) => x.marker).map((x) => ({ ...x.marker!, step })));
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
    mark(run, [x], 'confirm');
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

export { exitOf } from './tenant.js';
export type { EngineOptions, EngineTarget, Outcome } from './tenant.js';
