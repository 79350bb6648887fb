// The Kubernetes TLS secret target, batched: every secret, deployment and permission of the fleet
// in three concurrent calls, then one kubectl process per step for every tenant (a List on stdin):
// 100 tenants cost a handful of kubectl start-ups, not seven hundred. Used when the user may list
// across namespaces; otherwise the session goes namespace by namespace (steps.ts).
import { BusyError, KubectlError } from '../../../errors.js';
import type { DeploymentObject, Kubectl, SecretObject } from '../../../k8s/kubectl.js';
import type { Reporter } from '../../reporter.js';
import { eachRetrying, retrying } from '../../retry.js';
import { bounded } from '../../fleet.js';
import { releasePatch } from '../../cluster-lock.js';
import { LABEL_PREVIOUS_OF, backupRef, backupsToPrune, sameData } from './plan.js';
import { changedAgain, newBackupRef, secretHolds, type Access, type SecretTenant, type StepFail } from './steps.js';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec?: {
    replicas?: number;
    template?: { metadata?: { annotations?: Record<string, string> }; spec?: Record<string, unknown> };
  } & Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** What `kubectl rollout status` decides, for one deployment object. */
export function rolloutState(d: Deployment, sinceGeneration: number): 'done' | 'waiting' | { failed: string } {
  const st = d.status ?? {};
  if ((d.metadata.generation ?? 0) < sinceGeneration || (st.observedGeneration ?? 0) < (d.metadata.generation ?? 0))
    return 'waiting';
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
export async function clusterAccess(
  kubectl: Kubectl,
  tenants: SecretTenant[],
  namespaces: string[],
  refuse: StepFail,
  parallel: number,
): Promise<Access | undefined> {
  const all = kubectl.acrossNamespaces();
  const checks = namespaces.flatMap((ns) => [
    ['create', '', 'secrets', ns],
    ['update', '', 'secrets', ns],
    ['update', 'apps', 'deployments', ns],
  ]);
  const [secrets, deployments, allowed] = await Promise.all([
    retrying(() => all.listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls'])),
    retrying(() => all.listAllIfAllowed<Deployment>('deployments')),
    retrying(() =>
      all.accessReviews(
        checks.map(([verb, group, resource, namespace]) => ({
          verb: verb!,
          group: group!,
          resource: resource!,
          namespace: namespace!,
        })),
      ),
    ),
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
  await bounded(
    tenants.filter((x) => !byKey.has(sk(x.t.namespace, x.t.secret)) && !denied.has(x.t.namespace)),
    parallel,
    async (x) => {
      const [cur, prev] = await Promise.all([
        retrying(() => x.k.getSecret(x.t.secret)),
        retrying(() => x.k.listSecrets(`${LABEL_PREVIOUS_OF}=${x.t.secret}`)),
      ]);
      if (cur.found) byKey.set(sk(x.t.namespace, x.t.secret), cur.object);
      for (const b of prev)
        if (!secrets.some((s) => s.metadata.namespace === b.metadata.namespace && s.metadata.name === b.metadata.name))
          secrets.push(b);
    },
  );
  for (const x of tenants) {
    const { namespace, secret } = x.t;
    const miss = denied.get(namespace);
    if (miss) {
      refuse(
        x,
        new KubectlError(`permission denied: this user cannot ${miss.join(', ')} in namespace "${namespace}"`, {
          verb: 'auth',
          args: [],
          reason: 'Forbidden',
          hint: 'Nothing was changed in this tenant.',
        }),
      );
      continue;
    }
    x.current = byKey.get(sk(namespace, secret));
    if (!x.current) {
      refuse(
        x,
        new KubectlError(`secret "${secret}" not found in namespace "${namespace}"`, {
          verb: 'get',
          args: [],
          reason: 'NotFound',
        }),
      );
      continue;
    }
    x.allDeployments = deployments.filter((d) => d.metadata.namespace === namespace) as DeploymentObject[];
    x.backups = secrets
      .filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[LABEL_PREVIOUS_OF] === secret)
      .map(backupRef);
  }
  return batched(all, kubectl, deployments);
}

function batched(all: Kubectl, kubectl: Kubectl, deployments: Deployment[]): Access {
  // A retry that answers AlreadyExists or 409 may be our own write that landed unseen: secretHolds decides.
  const landed = async (x: SecretTenant, manifest: SecretObject) =>
    (await secretHolds(x.k, manifest)) ? { ok: true as const, fields: [] } : undefined;
  return {
    signal(s) {
      all.signal = s;
    },
    async backup(xs, out, fail) {
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
        if (!ri.ok)
          fail(
            x,
            new KubectlError(`backup of ${x.t.namespace}/${x.t.secret} failed: ${ri.error}`, {
              verb: 'create',
              args: [],
              hint: 'Nothing was changed in this tenant.',
            }),
          );
      });
    },
    async apply(xs, out, fail) {
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
        if (/Conflict/.test(ri.error)) {
          // 409: ours did not land
          fail(
            x,
            new BusyError(`${x.t.namespace}/${x.t.secret} changed while xsoar-cert was working: ${ri.error}`),
            true,
          );
        } else
          fail(
            x,
            new KubectlError(`replacing ${x.t.namespace}/${x.t.secret} failed: ${ri.error}`, {
              verb: 'replace',
              args: [],
            }),
          );
      });
    },
    async restart(xs, timeoutS, out, fail, check) {
      await restartBatched(all, kubectl, deployments, xs, out, fail);
      await waitRollouts(all, xs, timeoutS, out, fail, check);
    },
    async release(xs, _out, fail) {
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
              ri.ok &&
              sameData(JSON.parse(ri.fields[0] ?? '{}') as Record<string, string>, x.plan!.secretManifest.data);
          } catch {
            /* read it below */
          }
          if (!holds) holds = await secretHolds(x.k, x.plan!.secretManifest).catch(() => false);
          if (!holds) fail(x, changedAgain(x));
        }),
      );
    },
    async prune(xs, out) {
      const items = xs.flatMap((x) =>
        backupsToPrune([...x.backups, newBackupRef(x)]).map((name) => ({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace: x.t.namespace },
        })),
      );
      if (items.length)
        await all.each('delete', items).catch((err: Error) => out.warn(`could not prune old backups: ${err.message}`));
    },
  };
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
  const restarts = new Map<string, { tenants: SecretTenant[]; d: Deployment }>();
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
      restarts.set(key, {
        tenants: [x],
        d: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: d.metadata,
          spec: {
            ...d.spec,
            template: {
              ...tpl,
              metadata: { ...tpl.metadata, annotations: { ...tpl.metadata?.annotations, [RESTARTED_AT]: stampNow } },
            },
          },
        },
      });
    }
  }
  const list = [...restarts.values()];
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

/** Poll every deployment in one call until each rollout is done, failed or late. */
async function waitRollouts(
  all: Kubectl,
  xs: SecretTenant[],
  timeoutS: number,
  out: Reporter,
  fail: StepFail,
  check: () => void,
): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  const going = () => xs.filter((x) => !x.failed && x.restartedGeneration.size > 0);
  await out.wait(
    `waiting for ${going().length} rollouts`,
    (async () => {
      for (let pending = going(); pending.length; pending = going()) {
        await new Promise((r) => setTimeout(r, 150));
        check();
        const now: Deployment[] = await retrying(() => all.rolloutFields());
        for (const x of pending) {
          for (const [name, gen] of x.restartedGeneration) {
            const d = now.find((y) => y.metadata.namespace === x.t.namespace && y.metadata.name === name);
            const st = d ? rolloutState(d, gen) : { failed: `deployment "${name}" disappeared` };
            if (typeof st === 'object')
              fail(
                x,
                new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish: ${st.failed}`, {
                  verb: 'rollout',
                  args: [],
                }),
              );
            else if (st === 'done') x.restartedGeneration.delete(name);
          }
        }
        if (going().length && Date.now() > until)
          for (const x of going())
            fail(
              x,
              new KubectlError(`the rollout in namespace "${x.t.namespace}" did not finish within ${timeoutS} s`, {
                verb: 'rollout',
                args: [],
              }),
            );
      }
    })(),
  );
}
