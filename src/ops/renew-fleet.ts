// `renew` for many tenants in one run: every secret read in one cluster-wide call, one source for
// the run (one folder scan, one ACME order per set of names), the due tenants renewed in one
// batched transaction, and each tenant's attempt kept on record (renew-record.ts).
import { EXIT, XsoarCertError, type ExitCode } from '../errors.js';
import type { Reporter as Output } from './reporter.js';
import { Kubectl } from '../k8s/kubectl.js';
import { LIVE_TLS_SECRETS, type SecretObject } from '../k8s/secrets.js';
import { acquireLock, type Lock } from './state.js';
import { withCheckedFolders } from '../state-dir.js';
import { runFleet, secretKey, type FleetResult, type Target } from './fleet.js';
import { markerOfAnotherCluster, perCluster } from './clusters.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';
import { completeRequest } from './requests.js';
import type { CertificateSource, Installed, Obtained } from './sources/types.js';
import { backingOff, remember, type RunEnd } from './renew-record.js';
import { decide, pending, readInstalled, renewed, sourceFor, type RenewOptions, type RenewResult } from './renew.js';

type FleetBase = Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>;

/** Each tenant's renew lock (held for the whole run) and any marker a killed run left; the tenants still going. */
async function lockAndResolve(
  targets: Target[],
  base: FleetBase,
  kubectl: Kubectl,
  out: Output,
  failed: (t: Target, err: unknown) => void,
  locks: Lock[],
): Promise<Target[]> {
  const live: Target[] = [];
  for (const t of targets) {
    try {
      const elsewhere = markerOfAnotherCluster(t, base.context);
      if (elsewhere) throw elsewhere;
      if (!base.dryRun) locks.push(acquireLock(t.namespace, t.secret, 'renew'));
      await resolveMarker(kubectl.forNamespace(t.namespace), t.namespace, t.secret, out, {
        endpoint: t.endpoint,
        servername: base.servername,
        dryRun: base.dryRun,
      });
      live.push(t);
    } catch (err) {
      failed(t, err);
    }
  }
  return live;
}

/** Which tenants are due, each decided from its secret (read in one cluster-wide call where allowed). */
async function dueTenants(
  live: Target[],
  base: FleetBase,
  source: CertificateSource,
  kubectl: Kubectl,
  parallel: number,
  out: Output,
  settle: { skip: (t: Target, r: RenewResult) => void; failed: (t: Target, err: unknown) => void },
) {
  const wide = await kubectl.acrossNamespaces().listAllIfAllowed<SecretObject>('secrets', LIVE_TLS_SECRETS);
  const due: { t: Target; installed: Installed; reason: string }[] = [];
  const byName = new Map(wide?.map((s) => [secretKey(s.metadata.namespace ?? '', s.metadata.name), s]));
  await runFleet(live, parallel, async (t) => {
    const opts = { ...base, namespace: t.namespace, secret: t.secret, endpoint: t.endpoint };
    try {
      const hit = byName.get(secretKey(t.namespace, t.secret));
      const installed = readInstalled(
        opts,
        hit ? { found: true, object: hit } : await kubectl.forNamespace(t.namespace).getSecret(t.secret),
      );
      const d = await decide(opts, installed, source, out);
      if (d.skip) settle.skip(t, d.skip);
      else due.push({ t, installed, reason: d.reason });
    } catch (err) {
      settle.failed(t, err);
    }
  });
  return due.sort((a, b) => live.indexOf(a.t) - live.indexOf(b.t)); // decided concurrently; renewed in the order given
}

/**
 * Tenants in one or several clusters: each context's tenants renewed as one fleet (its own reads and
 * batch), in turn; a cluster that cannot be reached fails its own tenants (ops/clusters.ts).
 */
export function runRenewClusters(
  targets: Target[],
  lost: FleetResult<RenewResult>[],
  base: FleetBase,
  parallel: number,
  out: Output,
): Promise<FleetResult<RenewResult>[]> {
  return perCluster(targets, lost, (context, group) =>
    runRenewFleet(group, { ...base, context: context ?? base.context }, parallel, out),
  );
}

/**
 * Renew many tenants in one run: every secret read in one cluster-wide call, one source for the
 * run (one folder scan, one ACME order per set of names), and the due tenants renewed in one
 * batched transaction (one tenant at a time when the user may not list across namespaces).
 */
export function runRenewFleet(
  targets: Target[],
  base: FleetBase,
  parallel: number,
  out: Output,
): Promise<FleetResult<RenewResult>[]> {
  return withCheckedFolders(() => renewFleet(targets, base, parallel, out));
}

async function renewFleet(
  targets: Target[],
  base: FleetBase,
  parallel: number,
  out: Output,
): Promise<FleetResult<RenewResult>[]> {
  const kubectl = new Kubectl({ namespace: targets[0]!.namespace, context: base.context, kubeconfig: base.kubeconfig });
  const started = Date.now();
  const results = new Map<Target, FleetResult<RenewResult>>();
  const beforeEngine = new Set<Target>();
  const failed = (t: Target, err: unknown) => {
    beforeEngine.add(t);
    const exitCode = err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL;
    results.set(t, { target: t, ok: false, error: (err as Error).message, exitCode, ms: Date.now() - started });
  };
  const skip = (t: Target, value: RenewResult) =>
    results.set(t, { target: t, ok: true, value, ms: Date.now() - started });
  for (const t of targets) {
    const wait = backingOff(t, base, out);
    if (wait) skip(t, wait);
  }
  const locks: Lock[] = [];
  try {
    const live = await lockAndResolve(
      targets.filter((t) => !results.has(t)),
      base,
      kubectl,
      out,
      failed,
      locks,
    );
    const source = await sourceFor(base);
    const due = await dueTenants(live, base, source, kubectl, parallel, out, { skip, failed });
    if (due.length) await renewDue(due, base, source, kubectl, parallel, out, results);
  } finally {
    for (const l of locks) l.release();
  }
  if (!base.dryRun) for (const t of targets) remember(t, runEnd(results.get(t)!, beforeEngine.has(t)));
  return targets.map((t) => results.get(t)!);
}

/** What remember() keeps of one tenant's fleet result. */
function runEnd(r: FleetResult<RenewResult>, beforeEngine: boolean): RunEnd {
  if (!r.ok)
    return {
      error: new XsoarCertError(r.error ?? 'failed', (r.exitCode ?? EXIT.INTERNAL) as ExitCode),
      inEngine: !beforeEngine,
    };
  return r.value!.action === 'skipped' ? { skipped: r.value! } : { renewed: r.value! };
}

async function renewDue(
  due: { t: Target; installed: Installed; reason: string }[],
  base: FleetBase,
  source: CertificateSource,
  kubectl: Kubectl,
  parallel: number,
  out: Output,
  results: Map<Target, FleetResult<RenewResult>>,
): Promise<void> {
  const byTarget = new Map(due.map((x) => [x.t, x]));
  const got = new Map<string, Obtained>();
  const { executeFleetTransaction } = await import('./txn/run.js');
  const done = await executeFleetTransaction(
    {
      op: 'renew',
      targets: due.map((x) => x.t),
      proxy: base.proxy,
      servername: base.servername,
      context: base.context,
      content: (t) => pending(source, byTarget.get(t)!.installed, out, got),
      allowNameChange: base.allowNameChange,
      noConfirm: base.noConfirm,
      dryRun: base.dryRun,
      timeoutS: base.timeoutS,
      parallel,
    },
    kubectl,
    out,
  );
  const obtained = (t: Target) => got.get(byTarget.get(t)!.installed.where);
  // A pending request completed by the renewed certificate goes once every tenant using it succeeded.
  const requestIds = new Set(due.map((x) => obtained(x.t)?.requestId).filter((x): x is number => x !== undefined));
  for (const id of requestIds)
    if (!base.dryRun && done.filter((r) => obtained(r.target)?.requestId === id).every((r) => r.ok))
      completeRequest(id, out);
  for (const r of done) {
    if (!r.ok) results.set(r.target, { target: r.target, ok: false, error: r.error, exitCode: r.exitCode, ms: r.ms });
    else
      results.set(r.target, {
        ...r,
        value: renewed(base, r.target, byTarget.get(r.target)!.reason, source, obtained(r.target), r.value!),
      });
  }
}
