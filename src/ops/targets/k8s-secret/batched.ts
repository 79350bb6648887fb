// The Kubernetes TLS secret target, batched: the fleet read in a few requests (fleet-read.ts), then
// each step sent for every tenant at once over the run's one proxy (k8s/batch.ts), and one list and
// one watch for every rollout. Used when the user may list across namespaces; otherwise the session
// goes namespace by namespace (steps.ts).
import { BusyError, KubectlError } from '../../../errors.js';
import { restartPatch, rolloutState, type Deployment } from '../../../k8s/deployments.js';
import type { Kubectl } from '../../../k8s/kubectl.js';
import type { SecretObject } from '../../../k8s/secrets.js';
import type { Reporter } from '../../reporter.js';
import { eachRetrying, retrying } from '../../retry.js';
import { releasePatch } from '../../cluster-lock.js';
import { LABEL_PREVIOUS_OF, backupsToPrune, sameData } from './plan.js';
import { changedAgain, newBackupRef, secretHolds, type Access, type SecretTenant, type StepFail } from './steps.js';
import { groupBy } from '../../../pool.js';
import { secretKey } from '../../fleet.js';
import { assignTenant, readFleet, readUnlisted } from './fleet-read.js';

/**
 * Every secret, deployment and permission of the fleet in three concurrent calls; undefined when
 * the user may not list across namespaces (the engine then goes one namespace at a time).
 */
export async function clusterAccess(
  kubectl: Kubectl,
  tenants: SecretTenant[],
  namespaces: string[],
  refuse: StepFail,
  parallel: number,
): Promise<Access | undefined> {
  const all = kubectl.acrossNamespaces();
  const fleet = await readFleet(all, namespaces);
  if (!fleet) return undefined;
  const { secrets, deployments, denied } = fleet;
  const byKey = new Map(secrets.map((s) => [secretKey(s.metadata.namespace ?? '', s.metadata.name), s]));
  // A secret of another type (Opaque holding tls.crt/tls.key) is not in that list: read those alone.
  const unlisted = tenants.filter(
    (x) => !byKey.has(secretKey(x.t.namespace, x.t.secret)) && !denied.has(x.t.namespace),
  );
  await readUnlisted(unlisted, parallel, byKey, secrets);
  const index = {
    byKey,
    previous: groupBy(secrets, (s) =>
      secretKey(s.metadata.namespace ?? '', s.metadata.labels?.[LABEL_PREVIOUS_OF] ?? ''),
    ),
    deployments: groupBy(deployments, (d) => d.metadata.namespace ?? ''),
  };
  for (const x of tenants) assignTenant(x, refuse, denied.get(x.t.namespace), index);
  return batched(all, kubectl);
}

function batched(all: Kubectl, kubectl: Kubectl): Access {
  return {
    signal(s) {
      all.signal = s;
    },
    backup: (xs, out, fail) => backupAll(all, xs, out, fail),
    apply: (xs, out, fail) => applyAll(all, xs, out, fail),
    async restart(xs, timeoutS, out, fail, check) {
      await restartBatched(all, kubectl, xs, out, fail);
      await waitRollouts(all, xs, timeoutS, out, fail, check);
    },
    release: (xs, _out, fail) => releaseAll(all, xs, fail),
    prune: (xs, out) => pruneAll(all, xs, out),
  };
}

/** A retry that answers AlreadyExists or 409 may be our own write that landed unseen: secretHolds decides. */
async function landed(x: SecretTenant, manifest: SecretObject) {
  return (await secretHolds(x.k, manifest)) ? { ok: true as const, fields: [] } : undefined;
}

async function backupAll(all: Kubectl, xs: SecretTenant[], out: Reporter, fail: StepFail): Promise<void> {
  out.step(`Backup: ${xs.length} secrets`);
  const r = await eachRetrying(
    (ix) =>
      all.each(
        'create',
        ix.map((i) => xs[i]!.plan!.backupManifest),
      ),
    xs.length,
    (i) => landed(xs[i]!, xs[i]!.plan!.backupManifest),
  );
  xs.forEach((x, i) => {
    const ri = r[i]!;
    if (ri.ok) return;
    const message = `backup of ${x.t.namespace}/${x.t.secret} failed: ${ri.error}`;
    fail(x, new KubectlError(message, { verb: 'create', args: [], hint: 'Nothing was changed in this tenant.' }));
  });
}

async function applyAll(all: Kubectl, xs: SecretTenant[], out: Reporter, fail: StepFail): Promise<void> {
  // The resourceVersion read in preflight: a concurrent change is a 409, not an overwrite.
  out.step(`Apply: replace ${xs.length} secrets`);
  const r = await eachRetrying(
    (ix) =>
      all.each(
        'replace',
        ix.map((i) => xs[i]!.plan!.secretManifest),
      ),
    xs.length,
    (i) => landed(xs[i]!, xs[i]!.plan!.secretManifest),
  );
  xs.forEach((x, i) => {
    const ri = r[i]!;
    if (ri.ok) return;
    const what = `${x.t.namespace}/${x.t.secret}`;
    // 409: ours did not land
    if (/Conflict/.test(ri.error))
      fail(x, new BusyError(`${what} changed while xsoar-cert was working: ${ri.error}`), true);
    else fail(x, new KubectlError(`replacing ${what} failed: ${ri.error}`, { verb: 'replace', args: [] }));
  });
}

/** Releases the lock of every tenant in one patch; its answer (the data) is the re-read. */
async function releaseAll(all: Kubectl, xs: SecretTenant[], fail: StepFail): Promise<void> {
  const lock = xs[0]?.lock ?? '';
  const items = xs.map((x) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: x.t.secret, namespace: x.t.namespace },
  }));
  const r = await eachRetrying(
    (ix) =>
      all.each(
        'patch',
        ix.map((i) => items[i]!),
        ['{.data}'],
        releasePatch(lock),
      ),
    items.length,
    async () => undefined,
  );
  await Promise.all(
    xs.map(async (x, i) => {
      const ri = r[i]!;
      let holds = false;
      try {
        holds =
          ri.ok && sameData(JSON.parse(ri.fields[0] ?? '{}') as Record<string, string>, x.plan!.secretManifest.data);
      } catch {
        /* read it below */
      }
      if (!holds) holds = await secretHolds(x.k, x.plan!.secretManifest).catch(() => false);
      if (!holds) fail(x, changedAgain(x));
    }),
  );
}

async function pruneAll(all: Kubectl, xs: SecretTenant[], out: Reporter): Promise<void> {
  const items = xs.flatMap((x) =>
    backupsToPrune([...x.backups, newBackupRef(x)]).map((name) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: x.t.namespace },
    })),
  );
  if (items.length)
    await all.each('delete', items).catch((err: Error) => out.warn(`could not prune old backups: ${err.message}`));
}

/** Each deployment to restart once, with the tenants it serves. */
function restartList(xs: SecretTenant[]): { tenants: SecretTenant[]; d: RestartRef }[] {
  const restarts = new Map<string, { tenants: SecretTenant[]; d: RestartRef }>();
  for (const x of xs) {
    for (const name of x.deployments) {
      const key = secretKey(x.t.namespace, name);
      const known = restarts.get(key);
      if (known) known.tenants.push(x);
      else restarts.set(key, { tenants: [x], d: { kind: 'Deployment', metadata: { name, namespace: x.t.namespace } } });
    }
  }
  return [...restarts.values()];
}

type RestartRef = { kind: 'Deployment'; metadata: { name: string; namespace: string } };

/** Each proxy deployment gets a new restartedAt, what `rollout restart` patches (and nothing else). */
async function restartBatched(
  all: Kubectl,
  kubectl: Kubectl,
  xs: SecretTenant[],
  out: Reporter,
  fail: StepFail,
): Promise<void> {
  const stampNow = new Date().toISOString();
  const list = restartList(xs);
  out.step(`Restart: ${list.length} deployments`);
  const restarted = await eachRetrying(
    (ix) =>
      all.each(
        'patch',
        ix.map((i) => list[i]!.d),
        ['{.metadata.generation}'],
        restartPatch(stampNow),
      ),
    list.length,
    async (i) => {
      // A lost answer: our restartedAt landed if the deployment carries it now.
      const d = list[i]!.d;
      const now = await retrying(() => kubectl.forNamespace(d.metadata.namespace).restartedAt(d.metadata.name));
      return now.restartedAt === stampNow ? { ok: true, fields: [String(now.generation)] } : undefined;
    },
  );
  list.forEach(({ tenants: users, d }, i) => {
    const r = restarted[i]!;
    for (const x of users) {
      if (r.ok) x.restartedGeneration.set(d.metadata.name, Number(r.fields[0]));
      else
        fail(
          x,
          new KubectlError(
            `restarting deployment/${d.metadata.name} in namespace "${x.t.namespace}" failed: ${r.error}`,
            { verb: 'rollout', args: [] },
          ),
        );
    }
  });
}

/** One list and one watch of every deployment until each rollout is done, failed or late. */
async function waitRollouts(
  all: Kubectl,
  xs: SecretTenant[],
  timeoutS: number,
  out: Reporter,
  fail: StepFail,
  check: () => void,
): Promise<void> {
  const going = () => xs.filter((x) => !x.failed && x.restartedGeneration.size > 0);
  const waiting = new Map<string, SecretTenant[]>();
  for (const x of going())
    for (const name of x.restartedGeneration.keys())
      waiting.set(secretKey(x.t.namespace, name), [...(waiting.get(secretKey(x.t.namespace, name)) ?? []), x]);
  const seen = (d: Deployment): boolean => {
    check();
    for (const x of waiting.get(secretKey(d.metadata.namespace ?? '', d.metadata.name)) ?? []) {
      const gen = x.restartedGeneration.get(d.metadata.name);
      if (x.failed || gen === undefined) continue;
      const st = rolloutState(d, gen);
      if (st === 'done') x.restartedGeneration.delete(d.metadata.name);
      else if (typeof st === 'object') fail(x, rolloutError(x, st.failed));
    }
    return going().length === 0;
  };
  if (!going().length) return;
  const done = await out.wait(
    `waiting for ${going().length} rollouts`,
    retrying(() => all.watchDeployments(seen, timeoutS * 1000)),
  );
  if (!done) for (const x of going()) fail(x, rolloutError(x, `not finished within ${timeoutS} s`));
}

function rolloutError(x: SecretTenant, why: string): KubectlError {
  return new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish: ${why}`, {
    verb: 'rollout',
    args: [],
  });
}
