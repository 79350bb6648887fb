// Deployments over the API: the one Deployment type, the namespace's list, what `kubectl rollout
// restart` sends and what `rollout status` decides (a watch, judged by rolloutState), and what the
// batched fleet wait watches instead (watchDeployments), with restartPatch: the restartedAt stamp.
import { KubectlError } from '../errors.js';
import type { Kubectl } from './kubectl.js';
import { answered } from './names.js';
import { ALL_NAMESPACES, itemsOf, query } from './wire.js';

/** The pod-template annotation `kubectl rollout restart` sets (kubectl's pkg/polymorphichelpers/objectrestarter.go). */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export interface DeploymentVolume {
  secret?: { secretName?: string };
  projected?: { sources?: { secret?: { name?: string } }[] };
}

/** The fields of an apps/v1 Deployment that xsoar-cert reads or sends back. */
export interface Deployment {
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
    template?: {
      metadata?: { annotations?: Record<string, string> };
      spec?: { volumes?: DeploymentVolume[] } & Record<string, unknown>;
    };
  } & Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

export async function listDeployments(k: Kubectl): Promise<Deployment[]> {
  const r = await k.send('get', { method: 'GET', path: k.path('apps', 'deployments') });
  return answered(
    'deployments',
    itemsOf<Deployment>(r).map((d) => ({ ...DEPLOYMENT, ...d })),
  );
}

async function getDeployment(k: Kubectl, name: string): Promise<Deployment> {
  const r = await k.send('get', { method: 'GET', path: k.path('apps', 'deployments', name) });
  return r.json as Deployment;
}

/** A deployment's generation and its pod template's restartedAt (what `rollout restart` sets). */
export async function restartedAt(
  k: Kubectl,
  deployment: string,
): Promise<{ generation: number; restartedAt?: string }> {
  const d = await getDeployment(k, deployment);
  return {
    generation: d.metadata.generation ?? 0,
    restartedAt: d.spec?.template?.metadata?.annotations?.[RESTARTED_AT],
  };
}

/**
 * What `kubectl rollout restart` sends (kubectl-http-trace.md): a strategic-merge patch of the pod
 * template's restartedAt. kubectl stamps whole seconds and refuses a second restart within one; the
 * milliseconds here make every restart a change.
 */
export async function rolloutRestart(k: Kubectl, deployments: string[]): Promise<void> {
  const p = restartPatch(new Date().toISOString());
  for (const name of deployments) {
    await k.send('rollout', {
      method: 'PATCH',
      path: k.path('apps', 'deployments', name) + query({ fieldManager: p.fieldManager }),
      body: p.body,
      contentType: p.contentType,
    });
  }
}

/**
 * The patch `rollout restart` sends, stamped `stamp`: it changes the pod template's restartedAt and
 * nothing else, so no one's concurrent change to the deployment is overwritten.
 */
export function restartPatch(stamp: string): { body: object; contentType: string; fieldManager: string } {
  return {
    body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: stamp } } } } },
    contentType: 'application/strategic-merge-patch+json',
    fieldManager: 'kubectl-rollout',
  };
}

/**
 * What `kubectl rollout status` does: read the deployment, then watch it (from the version read)
 * until rolloutState says done or failed, or `timeoutS` passes; a stream the server closes is
 * watched again from the last version seen.
 */
export async function rolloutStatus(
  k: Kubectl,
  deployment: string,
  timeoutS: number,
  onLine?: (l: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  let d = await getDeployment(k, deployment);
  let said = '';
  const judge = (x: Deployment): boolean => {
    const st = rolloutState(x, 0);
    if (typeof st === 'object') throw rolloutFailed(k, deployment, st.failed);
    const line = st === 'done' ? `deployment "${deployment}" successfully rolled out` : waitingLine(x);
    if (line !== said) onLine?.((said = line));
    return st === 'done';
  };
  while (!judge(d)) {
    const left = deadline - Date.now();
    if (left <= 0) throw rolloutFailed(k, deployment, 'timed out waiting for the condition');
    const path =
      k.path('apps', 'deployments') +
      query({
        fieldSelector: `metadata.name=${deployment}`,
        resourceVersion: d.metadata.resourceVersion,
        timeoutSeconds: Math.ceil(left / 1000),
        watch: true,
      });
    let done = false;
    await k.watch('rollout', {
      path,
      timeoutMs: left + 5000,
      onEvent: (e) => {
        if (e.type === 'ERROR') return true; // 410 Expired: read it again below
        d = e.object as Deployment;
        return (done = e.type !== 'BOOKMARK' && judge(d));
      },
    });
    if (done) return;
    d = await getDeployment(k, deployment);
  }
}

/** kubectl's progress line for a rollout still under way (DeploymentStatusViewer). */
function waitingLine(d: Deployment): string {
  const st = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  const [updated, replicas, available] = [st.updatedReplicas ?? 0, st.replicas ?? 0, st.availableReplicas ?? 0];
  if ((st.observedGeneration ?? 0) < (d.metadata.generation ?? 0))
    return 'Waiting for deployment spec update to be observed...';
  const waiting = `Waiting for deployment "${d.metadata.name}" rollout to finish:`;
  if (updated < want) return `${waiting} ${updated} out of ${want} new replicas have been updated...`;
  if (replicas > updated) return `${waiting} ${replicas - updated} old replicas are pending termination...`;
  return `${waiting} ${available} of ${updated} updated replicas are available...`;
}

function rolloutFailed(k: Kubectl, deployment: string, why: string): KubectlError {
  return new KubectlError(`the rollout of deployment/${deployment} in ${k.where()} did not finish: ${why}`, {
    verb: 'rollout',
    args: [],
    stderr: why,
    reason: 'RolloutFailed',
  });
}

/**
 * Every deployment across namespaces, then each change to one, handed to `seen` until it answers
 * true or `timeoutMs` passes (false): the batched rollout wait, one list and one watch for a whole
 * fleet instead of a list every poll. A stream the server ends is listed and watched again.
 */
export async function watchDeployments(
  k: Kubectl,
  seen: (d: Deployment) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const all = k.path('apps', 'deployments', undefined, ALL_NAMESPACES);
  let satisfied = false;
  const look = (d: Deployment) => (satisfied = seen(answered('deployments', [d])[0]!) || satisfied);
  while (Date.now() < deadline) {
    const r = await k.send('get', { method: 'GET', path: all });
    for (const d of itemsOf<Deployment>(r)) look(d);
    if (satisfied) return true;
    const left = deadline - Date.now();
    const rv = (r.json as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
    const timeoutSeconds = Math.max(1, Math.ceil(left / 1000));
    await k.watch('rollout', {
      path: all + query({ resourceVersion: rv, timeoutSeconds, watch: true }),
      timeoutMs: left + 5000,
      // An ERROR event (410 Expired) ends the stream too: then it is listed again.
      onEvent: (e) =>
        e.type === 'ERROR' || ((e.type === 'ADDED' || e.type === 'MODIFIED') && look(e.object as Deployment)),
    });
    if (satisfied) return true;
  }
  return false;
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
