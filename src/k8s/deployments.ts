// Deployments through kubectl: the one Deployment type, the namespace's list, `rollout restart`
// and `rollout status`, and what the batched fleet wait needs instead (rolloutFields: a jsonpath
// table of every deployment; rolloutState: the decision `rollout status` makes, for one object;
// restartManifest: the restartedAt stamp `rollout restart` patches in).
import { KubectlError } from '../errors.js';
import { redact } from '../redact.js';
import type { Kubectl } from './kubectl.js';
import { answered, positional } from './names.js';

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

export async function listDeployments(k: Kubectl): Promise<Deployment[]> {
  const r = await k.call('get', ['deployments', '-o', 'json']);
  return answered('deployments', (JSON.parse(r.stdout) as { items: Deployment[] }).items);
}

/** A deployment's generation and its pod template's restartedAt (what `rollout restart` sets). */
export async function restartedAt(
  k: Kubectl,
  deployment: string,
): Promise<{ generation: number; restartedAt?: string }> {
  const path =
    '{.metadata.generation}{"\\t"}{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}';
  const r = await k.call('get', ['deployment', '-o', `jsonpath=${path}`, ...positional('deployment', [deployment])]);
  const [gen, at] = r.stdout.split('\t');
  return { generation: Number(gen ?? 0), restartedAt: at || undefined };
}

export async function rolloutRestart(k: Kubectl, deployments: string[]): Promise<void> {
  await k.call('rollout', ['restart', ...positional('deployment', deployments, true)]);
}

export async function rolloutStatus(
  k: Kubectl,
  deployment: string,
  timeoutS: number,
  onLine?: (l: string) => void,
): Promise<void> {
  const r = await k.call(
    'rollout',
    ['status', `--timeout=${timeoutS}s`, ...positional('deployment', [deployment], true)],
    {
      onLine,
      allowFail: true,
      timeoutMs: (timeoutS + 15) * 1000,
    },
  );
  if (r.exitCode !== 0) {
    const why = redact(r.stderr.trim()).split('\n').pop() ?? 'rollout failed';
    throw new KubectlError(
      `the rollout of deployment/${deployment} in ${k.where()} did not finish: ${why.replace(/^error: /, '')}`,
      { verb: 'rollout', args: [], stderr: r.stderr, reason: 'RolloutFailed' },
    );
  }
}

/** The columns rolloutFields asks for, in the order it reads them. */
const ROLLOUT_COLUMNS = [
  '.metadata.namespace',
  '.metadata.name',
  '.metadata.generation',
  '.spec.replicas',
  '.status.observedGeneration',
  '.status.replicas',
  '.status.updatedReplicas',
  '.status.availableReplicas',
  '.status.conditions[?(@.type=="Progressing")].reason',
];

/**
 * Every deployment's rollout fields across namespaces, as a jsonpath table rather than whole
 * objects: the batched wait polls this every 150 ms, and 100 full deployments are 300 KB a poll.
 */
export async function rolloutFields(k: Kubectl): Promise<Deployment[]> {
  const tpl = '{range .items[*]}' + ROLLOUT_COLUMNS.map((c) => `{${c}}`).join('{"\\t"}') + '{"\\n"}{end}';
  const r = await k.call('get', ['deployments', '--all-namespaces', '-o', `jsonpath=${tpl}`]);
  return r.stdout.split('\n').filter(Boolean).map(rolloutRow);
}

/** One line of rolloutFields' table as the fields of a Deployment (an empty cell is 0). */
function rolloutRow(line: string): Deployment {
  const n = (v: string | undefined) => (v ? Number(v) : 0);
  const [ns, name, gen, replicas, obs, rep, upd, avail, progressing] = line.split('\t');
  answered('deployments', [{ metadata: { namespace: ns, name } }]);
  return {
    metadata: { namespace: ns!, name: name!, generation: n(gen) },
    spec: { replicas: replicas ? Number(replicas) : undefined },
    status: {
      observedGeneration: n(obs),
      replicas: n(rep),
      updatedReplicas: n(upd),
      availableReplicas: n(avail),
      conditions: progressing ? [{ type: 'Progressing', status: '', reason: progressing }] : [],
    },
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

/** The deployment as `rollout restart` leaves it: its pod template stamped with restartedAt. */
export function restartManifest(d: Deployment, stamp: string): Deployment {
  const tpl = d.spec?.template ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: d.metadata,
    spec: {
      ...d.spec,
      template: {
        ...tpl,
        metadata: { ...tpl.metadata, annotations: { ...tpl.metadata?.annotations, [RESTARTED_AT]: stamp } },
      },
    },
  };
}
