// The one transaction engine, for N ≥ 1 tenants (a single install is a fleet of one): read,
// check and plan every tenant first (nothing changes), then run the plan step by step, each step
// for every tenant still going: backup → apply (which takes the in-cluster lock) → restart →
// confirm live → release the lock (its answer is the re-read) → record. A tenant that fails after
// its secret changed is rolled back alone (rollbackTo). How a step reaches the cluster is the
// Access: one kubectl process per step for all tenants when the user may list across namespaces,
// or the namespaced calls of one tenant (the `viewer` case, and a single tenant).
import { BusyError, CancelledError, EXIT, EndpointError, KubectlError, TransactionError, XsoarCertError, CheckFailedError } from '../errors.js';
import type { Kubectl, SecretObject } from '../k8s/kubectl.js';
import type { Reporter } from './reporter.js';
import { acquireLock, assertStateWritable, clearMarker, self, writeMarker, type Marker } from './state.js';
import { appendAudit, assertAuditWritable, type AuditInput } from '../audit/log.js';
import { assertUnlocked, lockValue, newLock, parseLock } from './cluster-lock.js';
import { ANCHOR_ANNOTATION, currentAnchor } from '../audit/anchor.js';
import { retrying } from './retry.js';
import { bounded, type Target } from './fleet.js';
import { clusterAccess, namespacedAccess, type Access, type EngineTenant } from './engine-access.js';
import {
  ForeignChangeError, Interrupted, assertTlsSecret, backupRef, checkEndpoint, confirmServed, missingPermissions, nextBackupSeq, onInterrupt, plan, readPreflight, redactedPlan, resolveProxy, rollbackTo, whoAmI,
  type NewContent, type Plan, type Preflight, type TransactionResult,
} from './transaction.js';

export interface EngineTarget extends Target {
  content: NewContent | ((current: SecretObject) => Promise<NewContent>);
}

export interface EngineOptions {
  op: 'install' | 'rollback' | 'renew';
  targets: EngineTarget[];
  proxy: string;
  servername?: string;
  context?: string;
  allowNameChange?: boolean;
  /** --no-confirm: endpoints are neither checked before nor confirmed after. */
  noConfirm?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  parallel?: number;
  /** One tenant: asked once its plan is known, before anything changes; false cancels. */
  confirm?: (plan: Plan) => Promise<boolean>;
  /** One tenant: the preflight reads, when the caller started them early. */
  preflight?: Promise<Preflight>;
}

export interface Outcome {
  target: Target;
  ok: boolean;
  error?: XsoarCertError | Error;
  value?: TransactionResult;
  ms: number;
}


/** Read, check and plan, run the plan, and say per tenant what is true afterwards. */
export async function runEngine(o: EngineOptions, kubectl: Kubectl, out: Reporter): Promise<Outcome[]> {
  const solo = o.targets.length === 1;
  const tenants: EngineTenant[] = o.targets.map((t) => ({ t, k: kubectl.namespace === t.namespace ? kubectl : kubectl.forNamespace(t.namespace), started: Date.now(), backups: [], deployments: [], applied: false, step: 'backup', confirmed: false, restartedGeneration: new Map() }));
  // Before anything changes a failure of one tenant is final; with one tenant it is simply thrown.
  const refuse = (x: EngineTenant, err: unknown) => {
    if (solo) throw err;
    x.error ??= err instanceof XsoarCertError ? err : new CheckFailedError(String((err as Error)?.message ?? err));
  };
  const access = await preflight(o, tenants, kubectl, out, refuse);
  const held = newLock(o.op, whoAmI(), o.timeoutS ?? 120);
  const lock = lockValue(held);
  await planAll(o, tenants, { lock, anchor: currentAnchor(held.run) }, out, refuse);
  const results = () => tenants.map((x) => outcome(x, o));
  if (o.dryRun) return results();
  const x0 = tenants[0]!;
  if (solo && x0.plan!.oldFingerprint === x0.plan!.newFingerprint && o.op !== 'rollback') out.warn('the new certificate is the one already installed: it will be re-applied');
  if (solo && o.confirm && !(await o.confirm(x0.plan!))) {
    x0.cancelled = true;
    return results();
  }
  await execute(o, tenants, access, lock, out);
  return results();
}

/** 1. The read-only cluster state of every tenant: cluster-wide lists, or each tenant's namespace. */
async function preflight(o: EngineOptions, tenants: EngineTenant[], kubectl: Kubectl, out: Reporter, refuse: (x: EngineTenant, err: unknown) => void): Promise<Access> {
  const solo = tenants.length === 1;
  if (!solo) {
    const namespaces = [...new Set(tenants.map((x) => x.t.namespace))];
    out.step(`Preflight: ${tenants.length} tenants in ${namespaces.length} namespaces`);
    const wide = await clusterAccess(kubectl, tenants, namespaces, refuse, o.parallel ?? 4);
    if (wide) return wide;
    out.warn(`this user cannot list secrets or deployments across namespaces: ${o.op === 'renew' ? 'renewing' : 'installing'} one tenant at a time`);
  } else out.step(`Preflight: ${tenants[0]!.t.namespace}/${tenants[0]!.t.secret}`);
  await bounded(tenants, o.parallel ?? 4, async (x) => {
    try {
      const [cur, deployments, perms, backups] = await ((solo ? o.preflight : undefined) ?? readPreflight(x.k, x.t.secret));
      if (!cur.found) throw new KubectlError(`secret "${x.t.secret}" not found in ${x.k.where()}`, { verb: 'get', args: [], reason: 'NotFound', hint: 'Check --namespace and --secret; "xsoar-cert status" lists the TLS secrets it can see.' });
      if (perms) {
        const miss = missingPermissions(perms, x.t.secret);
        if (miss.required.length) throw new KubectlError(`permission denied: this user cannot ${miss.required.join(', ')} in ${x.k.where()}`, { verb: 'auth', args: [], reason: 'Forbidden', hint: `Ask for an RBAC role that grants: ${miss.required.join('; ')}. Nothing was changed.` });
        for (const m of miss.optional) out.warn(`this user cannot ${m}: old backups will not be pruned`);
      }
      x.current = cur.object;
      x.allDeployments = deployments;
      x.backups = backups.map(backupRef);
    } catch (err) {
      refuse(x, err);
    }
  });
  return namespacedAccess(o.parallel ?? 4);
}

/** 2. Per tenant (pure checks, then the endpoint): is it a TLS secret, unlocked, which proxy, what is written. */
async function planAll(o: EngineOptions, tenants: EngineTenant[], marks: { lock: string; anchor: string }, out: Reporter, refuse: (x: EngineTenant, err: unknown) => void): Promise<void> {
  const solo = tenants.length === 1;
  const now = new Date();
  for (const x of tenants.filter((y) => !y.error)) {
    const where = solo ? x.k.where() : `namespace "${x.t.namespace}"`;
    try {
      assertTlsSecret(x.current!, where);
      assertUnlocked(x.current!, where);
      x.deployments = resolveProxy(x.allDeployments ?? [], x.t.secret, o.proxy, where);
      x.content = typeof x.t.content === 'function' ? await x.t.content(x.current!) : x.t.content;
      x.plan = plan({ namespace: x.t.namespace, secret: x.t.secret, current: x.current!, content: x.content, deployments: x.deployments, endpoint: o.noConfirm ? undefined : x.t.endpoint, now, existingBackups: x.backups.map((b) => b.name), backupSeq: nextBackupSeq(x.backups), allowNameChange: o.allowNameChange, ...marks });
    } catch (err) {
      refuse(x, err);
      continue;
    }
    if (solo) out.ok(`secret ${x.t.namespace}/${x.t.secret} found (resourceVersion ${x.current!.metadata.resourceVersion}); proxy: ${x.deployments.map((t) => `deployment/${t}`).join(', ')}`);
  }
  // Each --endpoint answers TLS and serves the installed certificate, before any change.
  if (!o.noConfirm) {
    await bounded(tenants.filter((x) => !x.error && x.t.endpoint), o.parallel ?? 4, async (x) => {
      const check = checkEndpoint(x.t.endpoint!, x.plan!.oldFingerprint, `${x.t.namespace}/${x.t.secret}`, o.servername).catch(async (err: unknown) => {
        // Served ≠ installed because another run changed the secret since it was read: that run is busy with it.
        const now2 = err instanceof EndpointError ? await retrying(() => x.k.getSecret(x.t.secret)).catch(() => undefined) : undefined;
        if (now2?.found && now2.object.metadata.resourceVersion !== x.current!.metadata.resourceVersion) {
          assertUnlocked(now2.object, x.k.where());
          throw new BusyError(`secret ${x.t.namespace}/${x.t.secret} changed while xsoar-cert was checking ${x.t.endpoint}: another run is changing it`, 'Run "xsoar-cert status", then try again. Nothing was changed.');
        }
        throw err;
      });
      try {
        await (solo ? out.wait(`checking ${x.t.endpoint}`, check) : check);
        if (solo) out.ok(`${x.t.endpoint} answers TLS and serves the installed certificate`);
      } catch (err) {
        refuse(x, err);
      }
    });
  }
  if (solo) {
    const p = tenants[0]!.plan!;
    out.ok(`installed ${p.oldFingerprint ?? '(no certificate)'} → new ${p.newFingerprint}`);
    for (const w of p.warnings) out.warn(w);
  } else out.ok(`${tenants.filter((x) => !x.error).length} of ${tenants.length} tenants ready; ${tenants.filter((x) => x.error).length} refused before any change`);
}

/** 3. Execute: each step for every tenant still going; then roll back, record and tidy up. */
async function execute(o: EngineOptions, tenants: EngineTenant[], access: Access, lock: string, out: Reporter): Promise<void> {
  const live = () => tenants.filter((x) => !x.error);
  const abort = new AbortController();
  // Whatever fails once a signal came (a kubectl call it cut short, too) failed because of it.
  const fail = (x: EngineTenant, err: unknown) => {
    x.error ??= abort.signal.aborted ? new Interrupted('interrupted (Ctrl-C / SIGTERM)') : err instanceof Error ? err : new Error(String(err));
  };
  assertStateWritable(); // before any change: markers and locks can be written
  assertAuditWritable(); // and every change gets its record
  const stop = onInterrupt(() => abort.abort());
  for (const x of tenants) x.k.signal = abort.signal;
  access.signal(abort.signal);
  const check = () => {
    if (abort.signal.aborted) throw new Interrupted('interrupted (Ctrl-C / SIGTERM)');
  };
  const startedAt = new Date().toISOString();
  try {
    for (const x of live()) {
      try {
        x.localLock = acquireLock(x.t.namespace, x.t.secret, o.op);
        x.marker = { ...self(), op: o.op, namespace: x.t.namespace, secret: x.t.secret, context: o.context, backupName: x.plan!.backupName, oldFingerprint: x.plan!.oldFingerprint, newFingerprint: x.plan!.newFingerprint, deployments: x.deployments, step: 'backup', startedAt, lock };
        writeMarker(x.marker);
      } catch (err) {
        if (tenants.length === 1) throw err;
        fail(x, err);
      }
    }
    const steps: Array<() => Promise<void>> = [
      () => access.backup(live(), out, fail),
      () => {
        for (const x of live()) mark(x, 'apply', true);
        return access.apply(live(), out, fail);
      },
      () => {
        for (const x of live()) mark(x, 'restart');
        return access.restart(live(), o.timeoutS ?? 120, out, fail, check);
      },
      () => confirmAll(o, live(), out, fail, abort.signal),
      () => access.release(live(), lock, out, fail),
    ];
    for (const step of steps) {
      if (!live().length) break;
      await step();
      check();
    }
  } catch (err) {
    // A step failed for every tenant (the cluster unreachable mid-way, a signal, the local lock).
    for (const x of live()) fail(x, err);
  } finally {
    stop();
    for (const x of tenants) x.k.signal = undefined; // the rollback must not be aborted by the same signal
    access.signal(undefined);
  }
  await finish(o, tenants, access, lock, out, abort.signal.aborted);
}

function mark(x: EngineTenant, step: Marker['step'], applied = false): void {
  x.step = step;
  if (applied) x.applied = true; // a write that fails in flight may still have landed: roll back either way
  if (x.marker) writeMarker({ ...x.marker, step });
}

/** 4. Each endpoint serves the new certificate over TLS 1.2 and 1.3. */
async function confirmAll(o: EngineOptions, tenants: EngineTenant[], out: Reporter, fail: (x: EngineTenant, err: unknown) => void, signal: AbortSignal): Promise<void> {
  const withEndpoint = tenants.filter((x) => x.t.endpoint && !o.noConfirm);
  for (const x of tenants) x.step = 'confirm';
  if (!withEndpoint.length) return;
  const solo = tenants.length === 1;
  out.step(solo ? `Confirm: ${withEndpoint[0]!.t.endpoint} serves the new certificate (TLS 1.2 and 1.3)` : `Confirm: ${withEndpoint.length} endpoints serve the new certificate (TLS 1.2 and 1.3)`);
  await out.wait(solo ? `handshakes with ${withEndpoint[0]!.t.endpoint}` : 'confirming the live certificates', bounded(withEndpoint, o.parallel ?? 16, async (x) => {
    mark(x, 'confirm');
    try {
      await confirmServed(x.t.endpoint!, x.plan!.newFingerprint, o.servername, signal);
      x.confirmed = true;
      if (solo) out.ok(`${x.t.endpoint} serves ${x.plan!.newFingerprint} over TLS 1.2 and 1.3`);
    } catch (err) {
      fail(x, solo ? err : new KubectlError(`${x.t.endpoint}: ${(err as Error).message}`, { verb: 'confirm', args: [] }));
    }
  }));
}

/** 5. Roll back every tenant that failed after its secret changed; record every tenant; prune. */
async function finish(o: EngineOptions, tenants: EngineTenant[], access: Access, lock: string, out: Reporter, aborted: boolean): Promise<void> {
  const solo = tenants.length === 1;
  const audit = (x: EngineTenant, result: AuditInput['result'], error?: string) =>
    appendAudit({ op: o.op, namespace: x.t.namespace, secret: x.t.secret, context: o.context, durationMs: Date.now() - x.started, oldFingerprint: x.plan?.oldFingerprint, newFingerprint: x.plan?.newFingerprint, result, error, backup: x.plan?.backupName, run: parseLock(lock)?.run });
  const why = (x: EngineTenant) => x.error!.message;
  for (const x of tenants.filter((y) => y.marker)) {
    if (!x.error) {
      // Confirmed first: a kill before the record makes the next run write it (not roll back).
      writeMarker({ ...x.marker!, step: 'confirmed' });
      audit(x, 'installed');
      clearMarker(x.t.namespace, x.t.secret);
    } else if (!x.applied) {
      // Only the backup may exist: nothing served changed.
      clearMarker(x.t.namespace, x.t.secret);
      audit(x, 'failed', why(x));
      if (aborted) x.error = new CancelledError(`Cancelled (Ctrl-C / SIGTERM) before ${x.t.namespace}/${x.t.secret} was changed: nothing was changed.`);
    } else if (x.error instanceof BusyError && x.step === 'apply') {
      // 409: someone else changed the secret; ours did not land.
      clearMarker(x.t.namespace, x.t.secret);
      audit(x, 'failed', why(x));
    }
  }
  const toRoll = tenants.filter((x) => x.marker && x.error && x.applied && !(x.error instanceof BusyError && x.step === 'apply'));
  if (toRoll.length && !solo) out.step(`Rollback: ${toRoll.length} tenants`);
  await bounded(toRoll, o.parallel ?? 8, async (x) => {
    const reason = why(x);
    if (solo) out.fail(`${o.op} failed at ${x.step}: ${reason}`);
    writeMarker({ ...x.marker!, step: 'rollback' });
    try {
      await rollbackTo(x.k, { namespace: x.t.namespace, secret: x.t.secret, data: x.plan!.backupManifest.data ?? {}, ours: x.plan!.secretManifest.data, annotations: withAnchorOf(x.current!, x.plan!), lock, deployments: x.deployments, restartNeeded: true /* a restart may have been in flight: always restart after restoring */, endpoint: o.noConfirm ? undefined : x.t.endpoint, servername: o.servername, fingerprint: x.plan!.oldFingerprint, timeoutS: o.timeoutS ?? 120 }, solo ? out : out.quietCopy());
    } catch (rb) {
      if (rb instanceof ForeignChangeError) {
        // Not ours to undo: another run installed something after us. Say so; change nothing more.
        clearMarker(x.t.namespace, x.t.secret);
        audit(x, 'failed', `${reason}; ${rb.message}`);
        x.error = new BusyError(`${o.op} failed at ${x.step} (${reason}); ${rb.message}`, 'Run "xsoar-cert status" to see what is installed and served now.');
        return;
      }
      audit(x, 'rollback-failed', `${reason}; rollback: ${(rb as Error).message}`);
      x.error = new TransactionError(`${o.op} failed at ${x.step} (${reason}) AND the rollback failed: ${(rb as Error).message}`, false, `The previous certificate is kept in secret ${x.t.namespace}/${x.plan!.backupName}. Restore it with: xsoar-cert rollback -n ${x.t.namespace} --secret ${x.t.secret} --to ${x.plan!.backupName}`);
      return; // keep the marker: the next run resolves it
    }
    clearMarker(x.t.namespace, x.t.secret);
    audit(x, 'rolled-back', reason);
    x.error = new TransactionError(`${o.op} failed at ${x.step} (${reason}); rolled back: the previous certificate ${x.plan!.oldFingerprint ?? ''} is installed and served again`, true);
  });
  for (const x of tenants) x.localLock?.release();
  await access.prune(tenants.filter((x) => x.marker && !x.error), out);
}

function outcome(x: EngineTenant, o: EngineOptions): Outcome {
  const ms = Date.now() - x.started;
  if (x.error) return { target: x.t, ok: false, error: x.error, ms };
  const p = x.plan!;
  const result = x.cancelled ? 'cancelled' : o.dryRun ? 'dry-run' : 'installed';
  return {
    target: x.t,
    ok: true,
    ms,
    value: { namespace: x.t.namespace, secret: x.t.secret, result, oldFingerprint: p.oldFingerprint, newFingerprint: p.newFingerprint, backup: result === 'installed' ? p.backupName : undefined, deployments: x.deployments, confirmed: x.confirmed, plan: redactedPlan(p) },
  };
}

/** The exit code of an outcome's error (70 for a bug). */
export const exitOf = (e: Error | undefined): number => (e instanceof XsoarCertError ? e.exitCode : EXIT.INTERNAL);

/** The restore keeps the secret's own annotations but this run's audit anchor: the rollback is a change on record too. */
function withAnchorOf(current: SecretObject, p: Plan): Record<string, string> {
  const anchor = p.secretManifest.metadata.annotations?.[ANCHOR_ANNOTATION];
  return { ...current.metadata.annotations, ...(anchor ? { [ANCHOR_ANNOTATION]: anchor } : {}) };
}
