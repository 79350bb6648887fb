// The end of a run: restore every tenant that failed after it changed, write every tenant's audit
// record (a refusal before any change too), release the local locks, prune old versions, and say
// per tenant what is true afterwards.
import { BusyError, CancelledError, ForeignChangeError, TransactionError } from '../../errors.js';
import { clearMarker, writeMarker, writeMarkers } from '../state.js';
import { appendAudit, appendAuditMany, type AuditInput } from '../../audit/log.js';
import { bounded } from '../../pool.js';
import { exitOf, type EngineOptions, type Outcome, type Run, type Tenant } from './tenant.js';
import type { PendingContent } from './types.js';

/** Restore every tenant that failed after it changed; record every tenant; prune. */
export async function finish(run: Run, aborted: boolean): Promise<void> {
  const { tenants } = run;
  const marked = tenants.filter((y) => y.marker);
  const done = marked.filter((x) => !x.error);
  // Only the backup may exist (or a 409: someone else changed it; ours did not land): nothing served changed.
  const unchanged = marked.filter(
    (x) => x.error && (!x.applied || (x.error instanceof BusyError && x.step === 'apply')),
  );
  // Confirmed first: a kill before the records makes the next run write them (not roll back).
  writeMarkers(done.map((x) => ({ ...x.marker!, step: 'confirmed' as const })));
  for (const x of unchanged) clearMarker(x.t.namespace, x.t.secret);
  auditAll(run, [
    ...done.map((x) => [x, 'installed'] as const),
    ...unchanged.map((x) => [x, 'failed', x.error!.message] as const),
  ]);
  for (const x of done) clearMarker(x.t.namespace, x.t.secret);
  for (const x of unchanged)
    if (aborted && !x.applied)
      x.error = new CancelledError(
        `Cancelled (Ctrl-C / SIGTERM) before ${x.t.namespace}/${x.t.secret} was changed: nothing was changed.`,
      );
  await restoreAll(run);
}

async function restoreAll(run: Run): Promise<void> {
  const { o, tenants, target, out, solo } = run;
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
      run.target.rollbackHint?.(x.t, c.backup) ??
        `The previous certificate is kept in secret ${x.t.namespace}/${c.backup}. Restore it with: ` +
          `xsoar-cert rollback -n ${x.t.namespace} --secret ${x.t.secret} --to ${c.backup}`,
    );
    return; // keep the marker: the next run resolves it
  }
  clearMarker(x.t.namespace, x.t.secret);
  audit(run, x, 'rolled-back', reason);
  x.error = new TransactionError(
    `${o.op} failed at ${x.step} (${reason}); rolled back: ` +
      `the previous certificate ${c.oldFingerprint ?? ''} is installed and served again`,
    true,
  );
}

/** A tenant refused before any change is on record too, with why and the exit code it ends with. */
export function recordRefusal(o: EngineOptions, x: Tenant, err: unknown): void {
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
  auditAll(run, [[x, result, error]]);
}

/** One record per tenant, in one append. */
function auditAll(run: Run, rows: ReadonlyArray<readonly [Tenant, AuditInput['result'], string?]>): void {
  appendAuditMany(rows.map(([x, result, error]) => auditInput(run, x, result, error)));
}

function auditInput(run: Run, x: Tenant, result: AuditInput['result'], error?: string): AuditInput {
  const c = x.change;
  return {
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
    ...(run.o.accepted?.length ? { accepted: run.o.accepted } : {}),
  };
}

export function outcome(x: Tenant, o: EngineOptions): Outcome {
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
