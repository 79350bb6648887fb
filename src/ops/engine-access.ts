// How the engine's steps reach the cluster. `clusterAccess`: one kubectl process per step for every
// tenant (a List on stdin; the user may list across namespaces): 100 tenants cost a handful of
// kubectl start-ups, not seven hundred. `namespacedAccess`: the calls of one namespace at a time
// (a single tenant, or a user with namespaced roles only). Both retry what a transient fault hit
// and hand the engine the same per-tenant outcome.
import { BusyError, KubectlError } from '../errors.js';
import { positional, type DeploymentObject, type Kubectl, type SecretObject } from '../k8s/kubectl.js';
import type { Reporter } from './reporter.js';
import type { Lock, Marker } from './state.js';
import { eachRetrying, retrying } from './retry.js';
import { bounded, type Target } from './fleet.js';
import { releaseLock, releasePatch } from './cluster-lock.js';
import { ForeignChangeError, LABEL_PREVIOUS_OF, backupRef, backupsToPrune, restart, sameData, secretHolds, writeSecret, type BackupRef, type NewContent, type Plan } from './transaction.js';

export interface EngineTenant {
  t: Target & { content: NewContent | ((current: SecretObject) => Promise<NewContent>) };
  /** kubectl in this tenant's namespace. */
  k: Kubectl;
  started: number;
  current?: SecretObject;
  allDeployments?: DeploymentObject[];
  backups: BackupRef[];
  deployments: string[];
  content?: NewContent;
  plan?: Plan;
  localLock?: Lock;
  marker?: Marker;
  /** The secret was (or may have been) written: a failure from here on means a rollback. */
  applied: boolean;
  step: Marker['step'];
  error?: Error;
  confirmed: boolean;
  cancelled?: boolean;
  /** clusterAccess: deployment name → the generation its restart produced. */
  restartedGeneration: Map<string, number>;
}

type Fail = (x: EngineTenant, err: unknown) => void;

export interface Access {
  signal(s: AbortSignal | undefined): void;
  backup(xs: EngineTenant[], out: Reporter, fail: Fail): Promise<void>;
  apply(xs: EngineTenant[], out: Reporter, fail: Fail): Promise<void>;
  restart(xs: EngineTenant[], timeoutS: number, out: Reporter, fail: Fail, check: () => void): Promise<void>;
  /** Release the in-cluster lock; its answer is the re-read: a tenant whose secret is not what it wrote fails. */
  release(xs: EngineTenant[], lock: string, out: Reporter, fail: Fail): Promise<void>;
  prune(xs: EngineTenant[], out: Reporter): Promise<void>;
}

const changedAgain = (x: EngineTenant) => new ForeignChangeError(`the secret ${x.t.namespace}/${x.t.secret} changed again after this run wrote it`, 'Someone else changed it meanwhile; run status.');

// ------------------------------------------------------------------ one namespace at a time

export function namespacedAccess(parallel: number): Access {
  const solo = (xs: EngineTenant[]) => xs.length === 1;
  return {
    signal() { /* each tenant's kubectl carries the engine's signal */ },
    async backup(xs, out, fail) {
      out.step(solo(xs) ? `Backup: ${xs[0]!.t.namespace}/${xs[0]!.plan!.backupName}` : `Backup: ${xs.length} secrets`);
      await bounded(xs, parallel, async (x) => {
        try {
          await writeSecret(x.k, 'create', x.plan!.backupManifest);
          if (solo(xs)) out.ok(`previous version kept as secret ${x.plan!.backupName}`);
        } catch (err) {
          fail(x, err);
        }
      });
    },
    async apply(xs, out, fail) {
      out.step(solo(xs) ? `Apply: replace ${xs[0]!.t.namespace}/${xs[0]!.t.secret}` : `Apply: replace ${xs.length} secrets`);
      await bounded(xs, parallel, async (x) => {
        try {
          await writeSecret(x.k, 'replace', x.plan!.secretManifest);
          if (solo(xs)) out.ok(`secret ${x.t.secret} now holds ${x.content!.label}`);
        } catch (err) {
          fail(x, err);
        }
      });
    },
    async restart(xs, timeoutS, out, fail) {
      // One `rollout restart` per namespace for every proxy there (a deployment serving two of the secrets restarts once).
      const byNs = new Map<string, EngineTenant[]>();
      for (const x of xs) byNs.set(x.t.namespace, [...(byNs.get(x.t.namespace) ?? []), x]);
      await bounded([...byNs.values()], parallel, async (group) => {
        const deployments = [...new Set(group.flatMap((x) => x.deployments))];
        try {
          await restart(group[0]!.k, deployments, timeoutS, solo(xs) ? out : out.quietCopy());
        } catch (err) {
          for (const x of group) fail(x, err);
        }
      });
    },
    async release(xs, lock, _out, fail) {
      await bounded(xs, parallel, async (x) => {
        const after = await releaseLock(x.k, x.t.secret, lock).catch(() => undefined);
        if (!after || !sameData(after.data, x.plan!.secretManifest.data)) fail(x, changedAgain(x));
      });
    },
    async prune(xs, out) {
      await bounded(xs, parallel, async (x) => {
        for (const n of backupsToPrune([...x.backups, { name: x.plan!.backupName, fingerprint: x.plan!.oldFingerprint, seq: x.plan!.backupSeq }])) {
          await x.k.deleteSecret(n).catch((err: Error) => out.warn(`could not prune old backup ${n}: ${err.message}`));
        }
      });
    },
  };
}

// ------------------------------------------------------------------ one call for every tenant

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> }; spec?: Record<string, unknown> } } & Record<string, unknown>;
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
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

const sk = (ns: string, name: string) => `${ns}/${name}`;

/**
 * Every secret, deployment and permission of the fleet in three concurrent calls; undefined when
 * the user may not list across namespaces (the engine then goes one namespace at a time).
 */
export async function clusterAccess(kubectl: Kubectl, tenants: EngineTenant[], namespaces: string[], refuse: Fail, parallel: number): Promise<Access | undefined> {
  const all = kubectl.acrossNamespaces();
  const checks = namespaces.flatMap((ns) => [['create', '', 'secrets', ns], ['update', '', 'secrets', ns], ['update', 'apps', 'deployments', ns]]);
  const [secrets, deployments, allowed] = await Promise.all([
    retrying(() => all.listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls'])),
    retrying(() => all.listAllIfAllowed<Deployment>('deployments')),
    retrying(() => all.accessReviews(checks.map(([verb, group, resource, namespace]) => ({ verb: verb!, group: group!, resource: resource!, namespace: namespace! })))),
  ]);
  if (!secrets || !deployments) return undefined;
  const denied = new Map<string, string[]>();
  allowed.forEach((ok, i) => {
    if (ok) return;
    const [verb, group, resource, ns] = checks[i]!;
    denied.set(ns!, [...(denied.get(ns!) ?? []), `${verb} ${resource}${group ? '.' + group : ''}`]);
  });
  const byKey = new Map(secrets.map((s) => [sk(s.metadata.namespace ?? '', s.metadata.name), s]));
  // A secret of another type (Opaque holding tls.crt/tls.key) is not in that list: read those alone.
  await bounded(tenants.filter((x) => !byKey.has(sk(x.t.namespace, x.t.secret)) && !denied.has(x.t.namespace)), parallel, async (x) => {
    const [cur, prev] = await Promise.all([retrying(() => x.k.getSecret(x.t.secret)), retrying(() => x.k.listSecrets(`${LABEL_PREVIOUS_OF}=${x.t.secret}`))]);
    if (cur.found) byKey.set(sk(x.t.namespace, x.t.secret), cur.object);
    for (const b of prev) if (!secrets.some((s) => s.metadata.namespace === b.metadata.namespace && s.metadata.name === b.metadata.name)) secrets.push(b);
  });
  for (const x of tenants) {
    const { namespace, secret } = x.t;
    const miss = denied.get(namespace);
    if (miss) {
      refuse(x, new KubectlError(`permission denied: this user cannot ${miss.join(', ')} in namespace "${namespace}"`, { verb: 'auth', args: [], reason: 'Forbidden', hint: 'Nothing was changed in this tenant.' }));
      continue;
    }
    x.current = byKey.get(sk(namespace, secret));
    if (!x.current) {
      refuse(x, new KubectlError(`secret "${secret}" not found in namespace "${namespace}"`, { verb: 'get', args: [], reason: 'NotFound' }));
      continue;
    }
    x.allDeployments = deployments.filter((d) => d.metadata.namespace === namespace) as DeploymentObject[];
    x.backups = secrets.filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[LABEL_PREVIOUS_OF] === secret).map(backupRef);
  }
  return batched(all, kubectl, deployments);
}

function batched(all: Kubectl, kubectl: Kubectl, deployments: Deployment[]): Access {
  // A retry that answers AlreadyExists or 409 may be our own write that landed unseen: secretHolds decides.
  const landed = async (x: EngineTenant, manifest: SecretObject) => ((await secretHolds(x.k, manifest)) ? { ok: true as const, fields: [] } : undefined);
  return {
    signal(s) {
      all.signal = s;
    },
    async backup(xs, out, fail) {
      out.step(`Backup: ${xs.length} secrets`);
      const r = await eachRetrying((ix) => all.each('create', ix.map((i) => xs[i]!.plan!.backupManifest)), xs.length, (i) => landed(xs[i]!, xs[i]!.plan!.backupManifest));
      xs.forEach((x, i) => {
        const ri = r[i]!;
        if (!ri.ok) fail(x, new KubectlError(`backup of ${x.t.namespace}/${x.t.secret} failed: ${ri.error}`, { verb: 'create', args: [], hint: 'Nothing was changed in this tenant.' }));
      });
    },
    async apply(xs, out, fail) {
      // The resourceVersion read in preflight: a concurrent change is a 409, not an overwrite.
      out.step(`Apply: replace ${xs.length} secrets`);
      const r = await eachRetrying((ix) => all.each('replace', ix.map((i) => xs[i]!.plan!.secretManifest)), xs.length, (i) => landed(xs[i]!, xs[i]!.plan!.secretManifest));
      xs.forEach((x, i) => {
        const ri = r[i]!;
        if (ri.ok) return;
        if (/Conflict/.test(ri.error)) {
          x.applied = false; // ours did not land
          fail(x, new BusyError(`${x.t.namespace}/${x.t.secret} changed while xsoar-cert was working: ${ri.error}`));
        } else fail(x, new KubectlError(`replacing ${x.t.namespace}/${x.t.secret} failed: ${ri.error}`, { verb: 'replace', args: [] }));
      });
    },
    async restart(xs, timeoutS, out, fail, check) {
      await restartBatched(all, kubectl, deployments, xs, out, fail);
      await waitRollouts(all, xs, timeoutS, out, fail, check);
    },
    async release(xs, lock, _out, fail) {
      const items = xs.map((x) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: x.t.secret, namespace: x.t.namespace } }));
      const r = await eachRetrying((ix) => all.each('patch', ix.map((i) => items[i]!), ['{.data}'], releasePatch(lock)), items.length, async () => undefined);
      await Promise.all(xs.map(async (x, i) => {
        const ri = r[i]!;
        let holds = false;
        try {
          holds = ri.ok && sameData(JSON.parse(ri.fields[0] ?? '{}') as Record<string, string>, x.plan!.secretManifest.data);
        } catch { /* read it below */ }
        if (!holds) holds = await secretHolds(x.k, x.plan!.secretManifest).catch(() => false);
        if (!holds) fail(x, changedAgain(x));
      }));
    },
    async prune(xs, out) {
      const items = xs.flatMap((x) => backupsToPrune([...x.backups, { name: x.plan!.backupName, fingerprint: x.plan!.oldFingerprint, seq: x.plan!.backupSeq }]).map((name) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: x.t.namespace } })));
      if (items.length) await all.each('delete', items).catch((err: Error) => out.warn(`could not prune old backups: ${err.message}`));
    },
  };
}

/** Each proxy deployment gets a new restartedAt (what `rollout restart` patches), all in one call. */
async function restartBatched(all: Kubectl, kubectl: Kubectl, deployments: Deployment[], xs: EngineTenant[], out: Reporter, fail: Fail): Promise<void> {
  const restarts = new Map<string, { tenants: EngineTenant[]; d: Deployment }>();
  const stampNow = new Date().toISOString();
  for (const x of xs) {
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
    const r = await retrying(() => kubectl.forNamespace(d.metadata.namespace!).call('get', ['deployment', '-o', `jsonpath={.metadata.generation}{"\\t"}{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}`, ...positional('deployment', [d.metadata.name])]));
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
}

/** Poll every deployment in one call until each rollout is done, failed or late. */
async function waitRollouts(all: Kubectl, xs: EngineTenant[], timeoutS: number, out: Reporter, fail: Fail, check: () => void): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  const going = () => xs.filter((x) => !x.error && x.restartedGeneration.size > 0);
  await out.wait(`waiting for ${going().length} rollouts`, (async () => {
    for (let pending = going(); pending.length; pending = going()) {
      await new Promise((r) => setTimeout(r, 150));
      check();
      const now: Deployment[] = await retrying(() => all.rolloutFields());
      for (const x of pending) {
        for (const [name, gen] of x.restartedGeneration) {
          const d = now.find((y) => y.metadata.namespace === x.t.namespace && y.metadata.name === name);
          const st = d ? rolloutState(d, gen) : { failed: `deployment "${name}" disappeared` };
          if (typeof st === 'object') fail(x, new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish: ${st.failed}`, { verb: 'rollout', args: [] }));
          else if (st === 'done') x.restartedGeneration.delete(name);
        }
      }
      if (going().length && Date.now() > until) for (const x of going()) fail(x, new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish within ${timeoutS} s`, { verb: 'rollout', args: [] }));
    }
  })());
}

