// The install transaction for many tenants at once, batched: the same steps and guarantees as
// executeTransaction (backup, replace with the resourceVersion read, restart, wait, confirm;
// a tenant that fails after its secret changed is rolled back alone), but each step is ONE
// kubectl process for every tenant instead of one per tenant. 100 tenants cost a handful of
// kubectl start-ups, not seven hundred.
import { BusyError, CheckFailedError, EXIT, KubectlError, TransactionError, XsoarCertError } from '../errors.js';
import type { Kubectl, SecretObject } from '../k8s/kubectl.js';
import type { Reporter as Output } from './reporter.js';
import { acquireLock, assertStateWritable, clearMarker, self, writeMarker, type Lock, type Marker } from './state.js';
import { appendAudit, assertAuditWritable, type AuditInput } from '../audit/log.js';
import { assertUnlocked, lockValue, newLock, releasePatch } from './cluster-lock.js';
import { LABEL_PREVIOUS_OF, ForeignChangeError, sameData, whoAmI, backupRef, backupsToPrune, type BackupRef, executeTransaction, onInterrupt, assertTlsSecret, checkEndpoint, confirmServed, plan, resolveProxy, secretHolds, redactedPlan, rollbackTo, type NewContent, type Plan, type TransactionResult } from './transaction.js';
import { bounded, runFleet, type FleetResult, type Target } from './fleet.js';
import { eachRetrying, retrying } from './retry.js';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> }; spec?: Record<string, unknown> } } & Record<string, unknown>;
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export interface FleetTransactionOptions {
  op?: 'install' | 'renew';
  targets: Target[];
  proxy: string;
  servername?: string;
  context?: string;
  /** One certificate for every tenant (install), or one per tenant (renew). */
  content: NewContent | ((t: Target) => NewContent);
  allowNameChange?: boolean;
  /** --no-confirm: endpoints are neither checked before nor confirmed after. */
  noConfirm?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  /** Tenants confirmed live at once (TLS handshakes). */
  parallel?: number;
}

/** What `kubectl rollout status` decides, for one deployment object. */
export function rolloutState(d: Deployment, sinceGeneration: number): 'done' | 'waiting' | { failed: string } {
  const st = d.status ?? {};
  if ((d.metadata.generation ?? 0) < sinceGeneration || (st.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return 'waiting';
  const stuck = (st.conditions ?? []).find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  if (stuck) return { failed: `deployment "${d.metadata.name}" exceeded its progress deadline` };
  const want = d.spec?.replicas ?? 1;
  if ((st.updatedReplicas ?? 0) < want) return 'waiting';
  if ((st.replicas ?? 0) > (st.updatedReplicas ?? 0)) return 'waiting';
  if ((st.availableReplicas ?? 0) < (st.updatedReplicas ?? 0)) return 'waiting';
  return 'done';
}

interface Tenant {
  t: Target;
  content: NewContent;
  key: string;
  started: number;
  current?: SecretObject;
  backups: BackupRef[];
  deployments: string[];
  plan?: Plan;
  lock?: Lock;
  marker?: Marker;
  /** The secret was (or may have been) written: a failure from here on means a rollback. */
  applied: boolean;
  restartedGeneration: Map<string, number>;
  error?: XsoarCertError;
  confirmed: boolean;
}

const sk = (ns: string, name: string) => `${ns}/${name}`;


export async function executeFleetTransaction(opts: FleetTransactionOptions, kubectl: Kubectl, out: Output): Promise<FleetResult<TransactionResult>[]> {
  const all = kubectl.acrossNamespaces();
  const op = opts.op ?? 'install';
  const contentOf = (t: Target) => (typeof opts.content === 'function' ? opts.content(t) : opts.content);
  const tenants: Tenant[] = opts.targets.map((t) => ({ t, content: contentOf(t), key: sk(t.namespace, t.secret), started: Date.now(), backups: [], deployments: [], applied: false, restartedGeneration: new Map(), confirmed: false }));
  const live = () => tenants.filter((x) => !x.error);
  const fail = (x: Tenant, err: XsoarCertError) => {
    x.error ??= err;
  };
  const namespaces = [...new Set(opts.targets.map((t) => t.namespace))];

  // 1. Preflight: every secret, every deployment and every permission in three concurrent calls.
  out.step(`Preflight: ${tenants.length} tenants in ${namespaces.length} namespaces`);
  const checks = namespaces.flatMap((ns) => [
    ['create', '', 'secrets', ns],
    ['update', '', 'secrets', ns],
    ['update', 'apps', 'deployments', ns],
  ]);
  const [secrets, deployments, access] = await Promise.all([
    retrying(() => all.listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls'])),
    retrying(() => all.listAllIfAllowed<Deployment>('deployments')),
    retrying(() => all.accessReviews(checks.map(([verb, group, resource, namespace]) => ({ verb: verb!, group: group!, resource: resource!, namespace: namespace! })))),
  ]);
  if (!secrets || !deployments) {
    // Namespaced roles only: the same transaction, one tenant at a time (--parallel of them at once).
    out.warn(`this user cannot list secrets or deployments across namespaces: ${op === 'renew' ? 'renewing' : 'installing'} one tenant at a time`);
    return runFleet(opts.targets, opts.parallel ?? 4, (t) =>
      executeTransaction({ op, namespace: t.namespace, secret: t.secret, proxy: opts.proxy, endpoint: t.endpoint, servername: opts.servername, context: opts.context, content: contentOf(t), allowNameChange: opts.allowNameChange, noConfirm: opts.noConfirm, dryRun: opts.dryRun, timeoutS: opts.timeoutS }, kubectl.forNamespace(t.namespace), out.quietCopy()),
    );
  }
  const denied = new Map<string, string[]>();
  access.forEach((allowed, i) => {
    if (allowed) return;
    const [verb, group, resource, ns] = checks[i]!;
    denied.set(ns!, [...(denied.get(ns!) ?? []), `${verb} ${resource}${group ? '.' + group : ''}`]);
  });
  const byKey = new Map(secrets.map((s) => [sk(s.metadata.namespace ?? '', s.metadata.name), s]));
  // A secret of another type (Opaque holding tls.crt/tls.key) is not in that list: read those alone.
  const others = tenants.filter((x) => !byKey.has(x.key) && !denied.has(x.t.namespace));
  await bounded(others, opts.parallel ?? 4, async (x) => {
    const k = kubectl.forNamespace(x.t.namespace);
    const [cur, prev] = await Promise.all([retrying(() => k.getSecret(x.t.secret)), retrying(() => k.listSecrets(`${LABEL_PREVIOUS_OF}=${x.t.secret}`))]);
    if (cur.found) byKey.set(x.key, cur.object);
    for (const b of prev) if (!secrets.some((s) => s.metadata.namespace === b.metadata.namespace && s.metadata.name === b.metadata.name)) secrets.push(b);
  });
  const now = new Date();
  // One in-cluster lock value for the run: each replace takes it on its secret (cluster-lock.ts).
  const lock = lockValue(newLock(op, whoAmI(), opts.timeoutS ?? 120, now));
  for (const x of tenants) {
    const { namespace, secret } = x.t;
    const miss = denied.get(namespace);
    if (miss) {
      fail(x, new KubectlError(`permission denied: this user cannot ${miss.join(', ')} in namespace "${namespace}"`, { verb: 'auth', args: [], reason: 'Forbidden', hint: 'Nothing was changed in this tenant.' }));
      continue;
    }
    x.current = byKey.get(x.key);
    if (!x.current) {
      fail(x, new KubectlError(`secret "${secret}" not found in namespace "${namespace}"`, { verb: 'get', args: [], reason: 'NotFound' }));
      continue;
    }
    const here = deployments.filter((d) => d.metadata.namespace === namespace);
    try {
      assertTlsSecret(x.current, `namespace "${namespace}"`);
      assertUnlocked(x.current, `namespace "${namespace}"`);
      x.deployments = resolveProxy(here, secret, opts.proxy, `namespace "${namespace}"`);
    } catch (err) {
      fail(x, err as XsoarCertError);
      continue;
    }
    x.backups = secrets.filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[LABEL_PREVIOUS_OF] === secret).map(backupRef);
    try {
      x.plan = plan({ namespace, secret, current: x.current, content: x.content, deployments: x.deployments, endpoint: x.t.endpoint, now, existingBackups: x.backups.map((b) => b.name), allowNameChange: opts.allowNameChange, lock });
    } catch (err) {
      fail(x, err instanceof XsoarCertError ? err : new CheckFailedError(String(err)));
    }
  }
  // Each tenant's --endpoint answers TLS and serves its installed certificate, before any change.
  if (!opts.noConfirm) {
    await bounded(live().filter((x) => x.t.endpoint), opts.parallel ?? 4, async (x) => {
      try {
        await checkEndpoint(x.t.endpoint!, x.plan!.oldFingerprint, `${x.t.namespace}/${x.t.secret}`, opts.servername);
      } catch (err) {
        fail(x, err as XsoarCertError);
      }
    });
  }
  out.ok(`${live().length} of ${tenants.length} tenants ready; ${tenants.length - live().length} refused before any change`);
  const results = () => tenants.map((x) => toResult(x, opts));
  if (opts.dryRun) return results();

  const audit = (x: Tenant, result: AuditInput['result'], error?: string) =>
    appendAudit({ op, namespace: x.t.namespace, secret: x.t.secret, context: opts.context, durationMs: Date.now() - x.started, oldFingerprint: x.plan?.oldFingerprint, newFingerprint: x.content.fingerprint, result, error, backup: x.plan?.backupName });
  assertStateWritable(); // before any change: markers and locks can be written
  assertAuditWritable(); // and every tenant's change gets its record
  // Ctrl-C / SIGTERM: finish the kubectl call in flight, then roll back every tenant already changed.
  let interrupted = false;
  const stop = onInterrupt(() => {
    interrupted = true;
  });
  const check = () => {
    if (interrupted) throw new KubectlError('interrupted (Ctrl-C / SIGTERM)', { verb: 'fleet', args: [], exitCode: EXIT.CANCELLED });
  };
  try {
    // One run per secret, and a marker per tenant that survives SIGKILL.
    for (const x of live()) {
      try {
        x.lock = acquireLock(x.t.namespace, x.t.secret, op);
        x.marker = { ...self(), op, namespace: x.t.namespace, secret: x.t.secret, context: opts.context, backupName: x.plan!.backupName, oldFingerprint: x.plan!.oldFingerprint, newFingerprint: x.content.fingerprint, deployments: x.deployments, step: 'backup', startedAt: now.toISOString(), lock };
        writeMarker(x.marker);
      } catch (err) {
        fail(x, err as XsoarCertError);
      }
    }

    // 2. Backups, in one call.
    out.step(`Backup: ${live().length} secrets`);
    // Each batched write is retried for the items a transient fault hit (retry.ts eachRetrying).
    const toBackUp = live();
    // A retry that answers AlreadyExists or 409 may be our own write that landed unseen: secretHolds decides.
    const landed = async (x: Tenant, manifest: SecretObject) => ((await secretHolds(kubectl.forNamespace(x.t.namespace), manifest)) ? { ok: true as const, fields: [] } : undefined);
    const backedUp = await eachRetrying((ix) => all.each('create', ix.map((i) => toBackUp[i]!.plan!.backupManifest)), toBackUp.length, (i) => landed(toBackUp[i]!, toBackUp[i]!.plan!.backupManifest));
    live().forEach((x, i) => {
      const r = backedUp[i]!;
      if (!r.ok) fail(x, new KubectlError(`backup of ${x.key} failed: ${r.error}`, { verb: 'create', args: [], hint: 'Nothing was changed in this tenant.' }));
    });
    check();
    // 3. Replace every secret with the resourceVersion read in preflight (a concurrent change is a 409).
    out.step(`Apply: replace ${live().length} secrets`);
    const ready = live();
    for (const x of ready) {
      x.applied = true;
      writeMarker({ ...x.marker!, step: 'apply' });
    }
    const replaced = await eachRetrying((ix) => all.each('replace', ix.map((i) => ready[i]!.plan!.secretManifest)), ready.length, (i) => landed(ready[i]!, ready[i]!.plan!.secretManifest));
    ready.forEach((x, i) => {
      const r = replaced[i]!;
      if (r.ok) return;
      if (/Conflict/.test(r.error)) {
        x.applied = false; // ours did not land
        fail(x, new BusyError(`${x.key} changed while xsoar-cert was working: ${r.error}`));
      } else fail(x, new KubectlError(`replacing ${x.key} failed: ${r.error}`, { verb: 'replace', args: [] }));
    });
    check();
    // 4. Restart: each proxy deployment with a new restartedAt (what `rollout restart` patches), in one call.
    // A deployment serving several of the secrets is restarted once, for all of them.
    const restarts = new Map<string, { tenants: Tenant[]; d: Deployment }>();
    const stampNow = new Date().toISOString();
    for (const x of live()) {
      writeMarker({ ...x.marker!, step: 'restart' });
      for (const name of x.deployments) {
        const key = sk(x.t.namespace, name);
        const known = restarts.get(key);
        if (known) {
          known.tenants.push(x);
          continue;
        }
        const d = deployments.find((y) => y.metadata.namespace === x.t.namespace && y.metadata.name === name)!;
        const tpl = d.spec?.template ?? {};
        restarts.set(key, { tenants: [x], d: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: d.metadata, spec: { ...d.spec, template: { ...tpl, metadata: { ...tpl.metadata, annotations: { ...tpl.metadata?.annotations, [RESTARTED_AT]: stampNow } } } } } });
      }
    }
    const list = [...restarts.values()];
    out.step(`Restart: ${list.length} deployments`);
    const restarted = await eachRetrying((ix) => all.each('replace', ix.map((i) => list[i]!.d), ['{.metadata.generation}']), list.length, async (i) => {
      // A 409 after a lost answer: our restartedAt landed if the deployment carries it now.
      const d = list[i]!.d;
      const r = await retrying(() => kubectl.forNamespace(d.metadata.namespace!).call('get', ['deployment', d.metadata.name, '-o', `jsonpath={.metadata.generation}{"\\t"}{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}`]));
      const [gen, at] = r.stdout.split('\t');
      return at === stampNow ? { ok: true, fields: [gen ?? '0'] } : undefined;
    });
    list.forEach(({ tenants: users, d }, i) => {
      const r = restarted[i]!;
      for (const x of users) {
        if (r.ok) x.restartedGeneration.set(d.metadata.name, Number(r.fields[0]));
        else fail(x, new KubectlError(`restarting deployment/${d.metadata.name} in namespace "${x.t.namespace}" failed: ${r.error}`, { verb: 'replace', args: [] }));
      }
    });
    // 5. Wait for every rollout: poll every deployment in one call until each is done, failed or late.
    const until = Date.now() + (opts.timeoutS ?? 120) * 1000;
    await out.wait(`waiting for ${live().length} rollouts`, (async () => {
      for (let pending = live(); pending.length; ) {
        await new Promise((r) => setTimeout(r, 150));
        check();
        const now2: Deployment[] = await retrying(() => all.rolloutFields());
        const find = (ns: string, name: string) => now2.find((d) => d.metadata.namespace === ns && d.metadata.name === name);
        for (const x of pending) {
          for (const [name, gen] of x.restartedGeneration) {
            const d = find(x.t.namespace, name);
            const st = d ? rolloutState(d, gen) : { failed: `deployment "${name}" disappeared` };
            if (typeof st === 'object') fail(x, new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish: ${st.failed}`, { verb: 'rollout', args: [] }));
            else if (st === 'done') x.restartedGeneration.delete(name);
          }
        }
        pending = live().filter((x) => x.restartedGeneration.size > 0);
        if (pending.length && Date.now() > until) for (const x of pending) fail(x, new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish within ${opts.timeoutS ?? 120} s`, { verb: 'rollout', args: [] }));
      }
    })());
    check();
    // 6. Confirm what each endpoint serves (tenants with an endpoint), in-process, bounded.
    const withEndpoint = live().filter((x) => x.t.endpoint && !opts.noConfirm);
    if (withEndpoint.length) out.step(`Confirm: ${withEndpoint.length} endpoints serve the new certificate (TLS 1.2 and 1.3)`);
    await out.wait('confirming the live certificates', bounded(withEndpoint, opts.parallel ?? 16, async (x) => {
      writeMarker({ ...x.marker!, step: 'confirm' });
      try {
        await confirmServed(x.t.endpoint!, x.content.fingerprint, opts.servername);
        x.confirmed = true;
      } catch (err) {
        fail(x, new KubectlError(`${x.t.endpoint}: ${(err as Error).message}`, { verb: 'confirm', args: [] }));
      }
    }));
    check();
    // 7. Release the lock of every changed tenant in one call; its answer is the re-read that makes
    // "installed" true (the secret holds what this run wrote).
    await release(live(), lock, all, kubectl, fail);
  } catch (err) {
    // kubectl itself failed (cluster unreachable mid-way): every tenant not yet failed fails now.
    for (const x of live()) fail(x, err instanceof XsoarCertError ? err : new KubectlError(String((err as Error).message ?? err), { verb: 'fleet', args: [] }));
  }

  stop();
  // 8. A tenant that failed after its secret changed is rolled back alone (the same rollback as one tenant).
  const toRoll = tenants.filter((x) => x.error && x.applied);
  if (toRoll.length) out.step(`Rollback: ${toRoll.length} tenants`);
  await bounded(toRoll, opts.parallel ?? 8, async (x) => {
    writeMarker({ ...x.marker!, step: 'rollback' });
    const k = kubectl.forNamespace(x.t.namespace);
    try {
      await rollbackTo(k, { namespace: x.t.namespace, secret: x.t.secret, data: x.plan!.backupManifest.data ?? {}, ours: x.plan!.secretManifest.data, annotations: x.current!.metadata.annotations, lock, deployments: x.deployments, restartNeeded: true, endpoint: opts.noConfirm ? undefined : x.t.endpoint, servername: opts.servername, fingerprint: x.plan!.oldFingerprint, timeoutS: opts.timeoutS ?? 120 }, out.quietCopy());
      x.error = new TransactionError(`${x.error!.message}; rolled back: the previous certificate is installed and served again`, true);
      audit(x, 'rolled-back', x.error.message);
    } catch (rb) {
      if (rb instanceof ForeignChangeError) {
        // Not ours to undo: another run changed the secret after us; it is left in place.
        x.error = new BusyError(`${x.error!.message}; ${rb.message}`, 'Run "xsoar-cert status" to see what is installed and served now.');
        audit(x, 'failed', x.error.message);
        clearMarker(x.t.namespace, x.t.secret);
        return;
      }
      x.error = new TransactionError(`${x.error!.message} AND the rollback failed: ${(rb as Error).message}`, false, `Restore it with: xsoar-cert rollback -n ${x.t.namespace} --secret ${x.t.secret} --to ${x.plan!.backupName}`);
      audit(x, 'rollback-failed', x.error.message);
      return; // keep the marker: the next run resolves it
    }
    clearMarker(x.t.namespace, x.t.secret);
  });
  for (const x of tenants) {
    if (x.marker && !x.applied) clearMarker(x.t.namespace, x.t.secret);
    if (x.plan && !x.applied && x.marker) audit(x, 'failed', x.error?.message);
    if (!x.error) {
      // Confirmed first: a kill before the record makes the next run write it (not roll back).
      writeMarker({ ...x.marker!, step: 'confirmed' });
      audit(x, 'installed');
      clearMarker(x.t.namespace, x.t.secret);
    }
    x.lock?.release();
  }
  // 9. Prune old backups of the tenants that succeeded, in one call.
  const prune = tenants
    .filter((x) => !x.error)
    .flatMap((x) => backupsToPrune([...x.backups, { name: x.plan!.backupName, fingerprint: x.plan!.oldFingerprint }]).map((name) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: x.t.namespace } })));
  if (prune.length) await all.each('delete', prune).catch((err: Error) => out.warn(`could not prune old backups: ${err.message}`));
  return results();
}

/** The batched lock release; an item it could not release is read alone to see what it holds. */
async function release(done: Tenant[], lock: string, all: Kubectl, kubectl: Kubectl, fail: (x: Tenant, err: XsoarCertError) => void): Promise<void> {
  const items = done.map((x) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: x.t.secret, namespace: x.t.namespace } }));
  const released = await eachRetrying((ix) => all.each('patch', ix.map((i) => items[i]!), ['{.data}'], releasePatch(lock)), items.length, async () => undefined);
  await Promise.all(done.map(async (x, i) => {
    const r = released[i]!;
    let holds = false;
    if (r.ok) {
      try {
        holds = sameData(JSON.parse(r.fields[0] ?? '{}') as Record<string, string>, x.plan!.secretManifest.data);
      } catch {
        holds = false;
      }
    }
    if (!r.ok || !holds) holds = await secretHolds(kubectl.forNamespace(x.t.namespace), x.plan!.secretManifest).catch(() => false);
    if (!holds) fail(x, new ForeignChangeError(`the secret ${x.key} changed again after this run wrote it`, 'Someone else changed it meanwhile; run status.'));
  }));
}

function toResult(x: Tenant, opts: FleetTransactionOptions): FleetResult<TransactionResult> {
  const ms = Date.now() - x.started;
  if (x.error) return { target: x.t, ok: false, error: x.error.message, exitCode: x.error.exitCode ?? EXIT.INTERNAL, ms };
  const p = x.plan!;
  return {
    target: x.t,
    ok: true,
    ms,
    value: { namespace: x.t.namespace, secret: x.t.secret, result: opts.dryRun ? 'dry-run' : 'installed', oldFingerprint: p.oldFingerprint, newFingerprint: p.newFingerprint, backup: opts.dryRun ? undefined : p.backupName, deployments: x.deployments, confirmed: x.confirmed, plan: redactedPlan(p) },
  };
}


