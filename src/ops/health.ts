// What monitoring needs to know about each tenant (issue 18, item 5), read only: the installed
// certificate's expiry and fingerprint, the renewal state kept in the state dir, and, when the
// tenant's endpoint is known, whether it serves the installed certificate. Read with as few kubectl
// processes as the cluster allows: one list of every TLS secret across namespaces when RBAC permits,
// else one `kubectl get` per namespace. Nothing here throws for one tenant: what could not be read
// is recorded on the tenant (`problem`, `stateError`, `served.error`) for the decisions.
import { ALL_NAMESPACES, Kubectl, type KubectlOptions } from '../k8s/kubectl.js';
import { fetchServedChain } from '../net/served-cert.js';
import { bounded, groupBy } from '../pool.js';
import { withCheckedFolders } from '../state-dir.js';
import { secretKey, targetKey, type Target } from './fleet.js';
import { installedLeaf } from './installed.js';
import { readRenewalState, type RenewalState } from './renewal-state.js';
import { getSecretsNamed, LIVE_TLS_SECRETS } from '../k8s/secrets.js';

/** How to reach the cluster: the context and kubeconfig (and, for tests, the API). */
export type HealthKubectl = Pick<KubectlOptions, 'context' | 'kubeconfig' | 'api' | 'bin' | 'timeoutMs'>;

export interface TenantHealth {
  /** The kubeconfig context the tenants file or a repeated --context named (else the run's). */
  context?: string;
  namespace: string;
  secret: string;
  endpoint?: string;
  /** The installed leaf; absent when it could not be read (`problem` says why). */
  installed?: { notAfter: string; fingerprint: string };
  problem?: string;
  /** The renewal state (a fresh one when none was kept); absent when its file is damaged or refused. */
  state?: RenewalState;
  stateError?: string;
  /** With an endpoint and an installed certificate: what the endpoint serves. */
  served?: { fingerprint: string; matches: boolean } | { error: string };
}

export interface HealthOptions {
  /** The TLS server name to ask each endpoint for (default: its host when it is a name). */
  servername?: string;
  /** One handshake's limit (default 5 s). */
  handshakeTimeoutMs?: number;
  /** Handshakes (and per-namespace reads) at once (default 8). */
  parallel?: number;
}

/** What is read of a secret (structurally the k8s layer's SecretObject). */
interface SecretObject {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

type SecretRead = { found: SecretObject } | { missing: true } | { error: string };

/** Every target's facts, in the order given. */
export function gatherHealth(
  targets: readonly Target[],
  k: HealthKubectl = {},
  o: HealthOptions = {},
): Promise<TenantHealth[]> {
  return withCheckedFolders(() => gather(targets, k, o));
}

async function gather(targets: readonly Target[], k: HealthKubectl, o: HealthOptions): Promise<TenantHealth[]> {
  const parallel = o.parallel ?? 8;
  // Each tenant is read in its own cluster: a tenants file may name several contexts.
  const reads = new Map<string, SecretRead>();
  for (const [context, group] of groupBy(targets, (t) => t.context)) {
    const got = await readSecrets(group, context === undefined ? k : { ...k, context }, parallel);
    for (const t of group) {
      const r = got.get(secretKey(t.namespace, t.secret));
      if (r) reads.set(targetKey(t), r);
    }
  }
  const out: TenantHealth[] = targets.map((t) => ({
    ...(t.context ? { context: t.context } : {}),
    namespace: t.namespace,
    secret: t.secret,
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    ...installedFacts(reads.get(targetKey(t))),
    ...stateFacts(t),
  }));
  const probed = out.filter((h) => h.endpoint && h.installed);
  await bounded(probed, parallel, async (h) => {
    h.served = await servedFacts(h.endpoint!, h.installed!.fingerprint, o);
  });
  return out;
}

/** The installed certificate's facts, or why there are none (pure). */
export function installedFacts(read: SecretRead | undefined): Pick<TenantHealth, 'installed' | 'problem'> {
  if (!read) return { problem: 'not read' };
  if ('error' in read) return { problem: read.error };
  if ('missing' in read) return { problem: 'secret not found' };
  const leaf = installedLeaf(read.found);
  if (!leaf) return { problem: 'tls.crt holds no certificate' };
  return { installed: { notAfter: new Date(leaf.validTo).toISOString(), fingerprint: leaf.fingerprint256 } };
}

function stateFacts(t: Target): Pick<TenantHealth, 'state' | 'stateError'> {
  try {
    return { state: readRenewalState(t.namespace, t.secret) };
  } catch (err) {
    return { stateError: (err as Error).message };
  }
}

async function servedFacts(
  endpoint: string,
  installed: string,
  o: HealthOptions,
): Promise<NonNullable<TenantHealth['served']>> {
  try {
    const r = await fetchServedChain(endpoint, { servername: o.servername, timeoutMs: o.handshakeTimeoutMs ?? 5000 });
    const leaf = r.chain[0];
    if (!leaf) return { error: `${endpoint} sent no certificate` };
    return { fingerprint: leaf.fingerprint256, matches: leaf.fingerprint256 === installed };
  } catch (err) {
    return { error: `${endpoint}: ${(err as Error).message}` };
  }
}

/**
 * Every target's secret: several namespaces first try one list of the cluster's TLS secrets (one
 * request); what it does not hold (RBAC allows namespaced reads only, a secret of another type, a
 * missing one) is read secret by secret.
 */
async function readSecrets(
  targets: readonly Target[],
  k: HealthKubectl,
  parallel: number,
): Promise<Map<string, SecretRead>> {
  const reads = new Map<string, SecretRead>();
  const wanted = new Set(targets.map((t) => secretKey(t.namespace, t.secret)));
  const namespaces = new Set(targets.map((t) => t.namespace));
  if (namespaces.size > 1) {
    let listed: SecretObject[] | undefined;
    try {
      listed = await new Kubectl({ ...k, namespace: ALL_NAMESPACES }).listAllIfAllowed<SecretObject>(
        'secrets',
        LIVE_TLS_SECRETS,
      );
    } catch (err) {
      // The cluster did not answer: every tenant is unread, for the same reason (no retry per namespace).
      for (const w of wanted) reads.set(w, { error: (err as Error).message });
      return reads;
    }
    for (const s of listed ?? []) {
      const sk = secretKey(s.metadata.namespace ?? '', s.metadata.name);
      if (wanted.has(sk)) reads.set(sk, { found: s });
    }
  }
  const rest = groupByNamespace(targets.filter((t) => !reads.has(secretKey(t.namespace, t.secret))));
  await bounded([...rest], parallel, async ([ns, names]) => {
    try {
      const got = await getSecrets(new Kubectl({ ...k, namespace: ns }), names);
      for (const n of names) reads.set(secretKey(ns, n), got.has(n) ? { found: got.get(n)! } : { missing: true });
    } catch (err) {
      for (const n of names) reads.set(secretKey(ns, n), { error: (err as Error).message });
    }
  });
  return reads;
}

function groupByNamespace(targets: readonly Target[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of targets) {
    const names = m.get(t.namespace) ?? [];
    if (!names.includes(t.secret)) names.push(t.secret);
    m.set(t.namespace, names);
  }
  return m;
}

/** The named secrets of one namespace, side by side on the connection (a missing one is simply not there). */
async function getSecrets(k: Kubectl, names: string[]): Promise<Map<string, SecretObject>> {
  if (names.length === 1) {
    const r = await k.getSecret(names[0]!);
    return new Map(r.found ? [[names[0]!, r.object]] : []);
  }
  const items = await getSecretsNamed(k, names);
  // Only the names asked for are kept: what the server answered is matched, never trusted as a name.
  return new Map(names.flatMap((n) => items.filter((s) => s?.metadata?.name === n).map((s) => [n, s] as const)));
}
