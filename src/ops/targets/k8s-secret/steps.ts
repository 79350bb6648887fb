// The Kubernetes TLS secret target, its steps: how each step reaches the cluster. Two ways, with
// the same per-tenant outcome: `namespacedAccess`, the calls of one namespace at a time (a single
// tenant, or a user with namespaced roles only, the `viewer` case), and `clusterAccess` (batched.ts):
// each step sent for every tenant at once when the user may list across namespaces. Both
// retry what a transient fault hit.
import { BusyError, ForeignChangeError, KubectlError, XsoarCertError } from '../../../errors.js';
import type { Permissions } from '../../../k8s/auth.js';
import type { Deployment } from '../../../k8s/deployments.js';
import type { Kubectl, Lookup } from '../../../k8s/kubectl.js';
import type { SecretObject } from '../../../k8s/secrets.js';
import type { Reporter } from '../../reporter.js';
import { retrying } from '../../retry.js';
import { bounded } from '../../../pool.js';
import type { Target } from '../../fleet.js';
import { releaseLock } from '../../cluster-lock.js';
import { LABEL_PREVIOUS_OF, backupsToPrune, sameData, type BackupRef, type Plan } from './plan.js';

/** What this target knows of one tenant during a run. */
export interface SecretTenant {
  t: Target;
  /** kubectl in this tenant's namespace. */
  k: Kubectl;
  current?: SecretObject;
  allDeployments: Deployment[];
  backups: BackupRef[];
  deployments: string[];
  /** What the change writes (set by the session's plan). */
  plan?: Plan;
  /** The new certificate's description, for messages. */
  label?: string;
  /** The run's in-cluster lock value. */
  lock?: string;
  /** Failed in this run: later steps skip it. */
  failed?: boolean;
  /** batched restart: deployment name → the generation its restart produced. */
  restartedGeneration: Map<string, number>;
}

export type StepFail = (x: SecretTenant, err: unknown, notApplied?: boolean) => void;

export interface Access {
  signal(s: AbortSignal | undefined): void;
  backup(xs: SecretTenant[], out: Reporter, fail: StepFail): Promise<void>;
  apply(xs: SecretTenant[], out: Reporter, fail: StepFail): Promise<void>;
  restart(xs: SecretTenant[], timeoutS: number, out: Reporter, fail: StepFail, check: () => void): Promise<void>;
  /** Release the in-cluster lock; its answer is the re-read: a tenant whose secret is not what it wrote fails. */
  release(xs: SecretTenant[], out: Reporter, fail: StepFail): Promise<void>;
  prune(xs: SecretTenant[], out: Reporter): Promise<void>;
}

export const changedAgain = (x: SecretTenant) =>
  new ForeignChangeError(
    `the secret ${x.t.namespace}/${x.t.secret} changed again after this run wrote it`,
    'Someone else changed it meanwhile; run status.',
  );

/** The previous version this run keeps, as pruning counts it. */
export const newBackupRef = (x: SecretTenant): BackupRef => ({
  name: x.plan!.backupName,
  fingerprint: x.plan!.oldFingerprint,
  seq: x.plan!.backupSeq,
});

// ------------------------------------------------------------------ one namespace at a time

export function namespacedAccess(parallel: number): Access {
  const solo = (xs: SecretTenant[]) => xs.length === 1;
  return {
    signal() {
      /* each tenant's kubectl carries the engine's signal */
    },
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
      out.step(
        solo(xs) ? `Apply: replace ${xs[0]!.t.namespace}/${xs[0]!.t.secret}` : `Apply: replace ${xs.length} secrets`,
      );
      await bounded(xs, parallel, async (x) => {
        try {
          await writeSecret(x.k, 'replace', x.plan!.secretManifest);
          if (solo(xs)) out.ok(`secret ${x.t.secret} now holds ${x.label}`);
        } catch (err) {
          fail(x, err);
        }
      });
    },
    async restart(xs, timeoutS, out, fail) {
      // One `rollout restart` per namespace for every proxy there (a deployment serving two of the
      // secrets restarts once).
      const byNs = new Map<string, SecretTenant[]>();
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
    async release(xs, _out, fail) {
      await bounded(xs, parallel, async (x) => {
        const after = await releaseLock(x.k, x.t.secret, x.lock!).catch(() => undefined);
        if (!after || !sameData(after.data, x.plan!.secretManifest.data)) fail(x, changedAgain(x));
      });
    },
    async prune(xs, out) {
      await bounded(xs, parallel, async (x) => {
        for (const n of backupsToPrune([...x.backups, newBackupRef(x)])) {
          await x.k.deleteSecret(n).catch((err: Error) => out.warn(`could not prune old backup ${n}: ${err.message}`));
        }
      });
    },
  };
}

export type Preflight = [Lookup<SecretObject>, Deployment[], Permissions | undefined, SecretObject[]];

/**
 * The read-only cluster state a transaction starts from, in requests side by side: the
 * namespace's secrets and deployments (the secret, its previous versions and the proxies), and
 * every permission in one rules review (what `auth can-i --list` asks).
 */
export async function readPreflight(kubectl: Kubectl, secret: string): Promise<Preflight> {
  const [both, perms] = await Promise.all([
    retrying(() => kubectl.listSecretsAndDeployments()),
    retrying(() => kubectl.permissions()).catch((err: unknown) =>
      err instanceof XsoarCertError && /unknown flag|--list/.test(String((err as KubectlError).stderr))
        ? undefined
        : Promise.reject(err),
    ),
  ]);
  const cur = both.secrets.find((s) => s.metadata.name === secret);
  const backups = both.secrets.filter((s) => s.metadata.labels?.[LABEL_PREVIOUS_OF] === secret);
  return [cur ? { found: true, object: cur } : { found: false }, both.deployments, perms, backups];
}

/** Does the secret named by `manifest` (in `kubectl`'s namespace) hold exactly its data now? */
export async function secretHolds(kubectl: Kubectl, manifest: SecretObject): Promise<boolean> {
  const live = await retrying(() => kubectl.getSecret(manifest.metadata.name));
  return live.found && sameData(live.object.data, manifest.data);
}

/**
 * The backup create, or the fenced replace (resourceVersion precondition), retried on a transient
 * fault. When a retry answers AlreadyExists or 409, the first try may have landed unseen: it counts
 * as done when the secret now holds exactly what we wrote.
 */
export async function writeSecret(kubectl: Kubectl, verb: 'create' | 'replace', manifest: SecretObject): Promise<void> {
  await retrying(async (attempt) => {
    try {
      await (verb === 'create' ? kubectl.create(manifest) : kubectl.replace(manifest));
    } catch (err) {
      const landed =
        verb === 'create' ? err instanceof KubectlError && err.reason === 'AlreadyExists' : err instanceof BusyError;
      if (attempt > 1 && landed && (await secretHolds(kubectl, manifest))) return;
      throw err;
    }
  });
}

/** What `kubectl rollout restart` sends to the proxies, then `rollout status` for each (retried when transient). */
export async function restart(kubectl: Kubectl, targets: string[], timeoutS: number, out: Reporter): Promise<void> {
  out.step(`Restart: ${targets.map((t) => `deployment/${t}`).join(', ')}`);
  await retrying(() => kubectl.rolloutRestart(targets));
  await out.wait(
    `waiting for the rollout of ${targets.join(', ')}`,
    Promise.all(
      targets.map((t) => retrying(() => kubectl.rolloutStatus(t, timeoutS, (line) => out.info(`  ${line}`)))),
    ),
  );
  out.ok(`rollout of ${targets.join(', ')} complete`);
}
