// The Kubernetes TLS secret target, batched: every secret, deployment and permission of the fleet
// in three concurrent calls, then one kubectl process per step for every tenant (a List on stdin):
// 100 tenants cost a handful of kubectl start-ups, not seven hundred. Used when the user may list
// across namespaces; otherwise the session goes namespace by namespace (steps.ts).
import { BusyError, KubectlError } from '../../../errors.js';
import type { AccessCheck } from '../../../k8s/auth.js';
import { restartManifest, rolloutState, type Deployment } from '../../../k8s/deployments.js';
import type { Kubectl } from '../../../k8s/kubectl.js';
import { LIVE_TLS_SECRETS, type SecretObject } from '../../../k8s/secrets.js';
import type { Reporter } from '../../reporter.js';
import { eachRetrying, retrying } from '../../retry.js';
import { bounded } from '../../../pool.js';
import { releasePatch } from '../../cluster-lock.js';
import { LABEL_PREVIOUS_OF, backupRef, backupsToPrune, sameData } from './plan.js';
import { changedAgain, newBackupRef, secretHolds, type Access, type SecretTenant, type StepFail } from './steps.js';

const sk = (ns: string, name: string) => `${ns}/${name}`;

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
  const byKey = new Map(secrets.map((s) => [sk(s.metadata.namespace ?? '', s.metadata.name), s]));
  // A secret of another type (Opaque holding tls.crt/tls.key) is not in that list: read those alone.
  const unlisted = tenants.filter((x) => !byKey.has(sk(x.t.namespace, x.t.secret)) && !denied.has(x.t.namespace));
  await readUnlisted(unlisted, parallel, byKey, secrets);
  const index = {
    byKey,
    previous: groupBy(secrets, (s) => sk(s.metadata.namespace ?? '', s.metadata.labels?.[LABEL_PREVIOUS_OF] ?? '')),
    deployments: groupBy(deployments, (d) => d.metadata.namespace ?? ''),
  };
  for (const x of tenants) assignTenant(x, refuse, denied.get(x.t.namespace), index);
  return batched(all, kubectl, deployments);
}

/**
 * The fleet's TLS secrets and deployments, undefined when RBAC forbids listing either across
 * namespaces, and per namespace the writes the user may not make.
 */
async function readFleet(
  all: Kubectl,
  namespaces: string[],
): Promise<{ secrets: SecretObject[]; deployments: Deployment[]; denied: Map<string, string[]> } | undefined> {
  const checks: AccessCheck[] = namespaces.flatMap((namespace) => [
    { verb: 'create', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: 'apps', resource: 'deployments', namespace },
  ]);
  // The secrets in use with their data; their previous versions (three each) by metadata only.
  const [live, previous, deployments, allowed] = await Promise.all([
    retrying(() => all.listAllIfAllowed<SecretObject>('secrets', LIVE_TLS_SECRETS)),
    retrying(() => all.listAllMetadata({ labelSelector: LABEL_PREVIOUS_OF })).catch(forbidden),
    retrying(() => all.listAllIfAllowed<Deployment>('deployments')),
    retrying(() => all.accessByRules(checks)),
  ]);
  if (!live || !previous || !deployments) return undefined;
  const secrets = [...live, ...previous];
  const denied = new Map<string, string[]>();
  allowed.forEach((ok, i) => {
    if (ok) return;
    const { verb, group, resource, namespace: ns } = checks[i]!;
    denied.set(ns, [...(denied.get(ns) ?? []), `${verb} ${resource}${group ? '.' + group : ''}`]);
  });
  return { secrets, deployments, denied };
}

/** Reads each tenant's secret and previous versions alone, adding them to `byKey` and `secrets`. */
async function readUnlisted(
  tenants: SecretTenant[],
  parallel: number,
  byKey: Map<string, SecretObject>,
  secrets: SecretObject[],
): Promise<void> {
  await bounded(tenants, parallel, async (x) => {
    const [cur, prev] = await Promise.all([
      retrying(() => x.k.getSecret(x.t.secret)),
      retrying(() => x.k.listSecrets(`${LABEL_PREVIOUS_OF}=${x.t.secret}`)),
    ]);
    if (cur.found) byKey.set(sk(x.t.namespace, x.t.secret), cur.object);
    for (const b of prev)
      if (!secrets.some((s) => s.metadata.namespace === b.metadata.namespace && s.metadata.name === b.metadata.name))
        secrets.push(b);
  });
}

/** What the fleet read holds, indexed: each secret by name, previous versions by owner, deployments by namespace. */
interface FleetIndex {
  byKey: Map<string, SecretObject>;
  previous: Map<string, SecretObject[]>;
  deployments: Map<string, Deployment[]>;
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** A list RBAC forbids across namespaces is no list (the engine then goes namespace by namespace). */
function forbidden(err: unknown): undefined {
  if (err instanceof KubectlError && err.reason === 'Forbidden') return undefined;
  throw err;
}

/** Gives a tenant what the fleet read holds for it, or refuses it (a write denied, its secret missing). */
function assignTenant(x: SecretTenant, refuse: StepFail, miss: string[] | undefined, index: FleetIndex): void {
  const { namespace, secret } = x.t;
  if (miss) {
    const message = `permission denied: this user cannot ${miss.join(', ')} in namespace "${namespace}"`;
    const hint = 'Nothing was changed in this tenant.';
    refuse(x, new KubectlError(message, { verb: 'auth', args: [], reason: 'Forbidden', hint }));
    return;
  }
  x.current = index.byKey.get(sk(namespace, secret));
  if (!x.current) {
    const message = `secret "${secret}" not found in namespace "${namespace}"`;
    refuse(x, new KubectlError(message, { verb: 'get', args: [], reason: 'NotFound' }));
    return;
  }
  x.allDeployments = index.deployments.get(namespace) ?? [];
  x.backups = (index.previous.get(sk(namespace, secret)) ?? []).map(backupRef);
}

function batched(all: Kubectl, kubectl: Kubectl, deployments: Deployment[]): Access {
  return {
    signal(s) {
      all.signal = s;
    },
    backup: (xs, out, fail) => backupAll(all, xs, out, fail),
    apply: (xs, out, fail) => applyAll(all, xs, out, fail),
    async restart(xs, timeoutS, out, fail, check) {
      await restartBatched(all, kubectl, deployments, xs, out, fail);
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

/** Each deployment to restart once, stamped `stamp`, with the tenants it serves. */
function restartList(
  deployments: Deployment[],
  xs: SecretTenant[],
  stamp: string,
): { tenants: SecretTenant[]; d: Deployment }[] {
  const restarts = new Map<string, { tenants: SecretTenant[]; d: Deployment }>();
  for (const x of xs) {
    for (const name of x.deployments) {
      const key = sk(x.t.namespace, name);
      const known = restarts.get(key);
      if (known) {
        known.tenants.push(x);
        continue;
      }
      const d = deployments.find((y) => y.metadata.namespace === x.t.namespace && y.metadata.name === name)!;
      restarts.set(key, { tenants: [x], d: restartManifest(d, stamp) });
    }
  }
  return [...restarts.values()];
}

/** Each proxy deployment gets a new restartedAt (what `rollout restart` patches), all in one call. */
async function restartBatched(
  all: Kubectl,
  kubectl: Kubectl,
  deployments: Deployment[],
  xs: SecretTenant[],
  out: Reporter,
  fail: StepFail,
): Promise<void> {
  const stampNow = new Date().toISOString();
  const list = restartList(deployments, xs, stampNow);
  out.step(`Restart: ${list.length} deployments`);
  const restarted = await eachRetrying(
    (ix) =>
      all.each(
        'replace',
        ix.map((i) => list[i]!.d),
        ['{.metadata.generation}'],
      ),
    list.length,
    async (i) => {
      // A 409 after a lost answer: our restartedAt landed if the deployment carries it now.
      const d = list[i]!.d;
      const now = await retrying(() => kubectl.forNamespace(d.metadata.namespace!).restartedAt(d.metadata.name));
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
            { verb: 'replace', args: [] },
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
      waiting.set(sk(x.t.namespace, name), [...(waiting.get(sk(x.t.namespace, name)) ?? []), x]);
  const seen = (d: Deployment): boolean => {
    check();
    for (const x of waiting.get(sk(d.metadata.namespace ?? '', d.metadata.name)) ?? []) {
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
