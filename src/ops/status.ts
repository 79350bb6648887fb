// `status` as an operation: what is installed, what is served, whether they agree, what can be
// rolled back to, and where each setting came from; for one tenant or a fleet (one report each).
// Reads only, except that a marker left by a killed run is resolved first (rolled back to its backup).
import { CheckFailedError, PartialError, type XsoarCertError } from '../errors.js';
import type { Deployment } from '../k8s/deployments.js';
import { Kubectl, type Lookup } from '../k8s/kubectl.js';
import type { SecretObject } from '../k8s/secrets.js';
import { fetchServedChain } from '../net/served-cert.js';
import type { Reporter } from './reporter.js';
import { resolveSettings, type SettingFlags, type Settings } from './settings.js';
import {
  contextsOf,
  parseParallel,
  resolveFleet,
  runFleet,
  type FleetResult,
  type Target,
  type TargetFlags,
} from './fleet.js';
import { markerOfAnotherCluster, perCluster } from './clusters.js';
import {
  ANN,
  LABEL_PREVIOUS_OF,
  deploymentsMounting,
  isBackupName,
  newestBackupsFirst,
} from './targets/k8s-secret/plan.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';
import { installedLeaf, leafFacts } from './installed.js';
import { readMarker } from './state.js';
import { readRenewalState } from './renewal-state.js';
import { parseEndpoint } from '../net/endpoint.js';
import { DEFAULT_THRESHOLD, decideDue } from './renew-policy.js';

const DAY = 86_400_000;

export interface StatusOptions {
  where: SettingFlags & TargetFlags;
  parallel?: string;
}

export type InstalledFacts =
  | {
      subject: string;
      names: string[];
      sha256: string;
      notAfter: string;
      daysLeft: number;
      /** When `renew` with its default threshold (the last third of the lifetime) would replace it. */
      renewAt: string;
      installedAt: string | null;
      installedBy: string | null;
      resourceVersion?: string;
    }
  | { error: string };

export type ServedFacts =
  | { endpoint: string; protocol: string; sha256: string; notAfter: string; daysLeft: number }
  | { endpoint: string; error: string };

export interface StatusReport {
  namespace: string;
  secret: string;
  context: string | null;
  sources: Settings['sources'];
  configFile?: string;
  installed: InstalledFacts | null;
  served: ServedFacts | null;
  /** null when either side is unknown. */
  agree: boolean | null;
  previousVersions: Array<{ name: string; sha256: string | null; notAfter: string | null }>;
  proxy: { setting: string; mounting: string[] };
  interrupted: { op: string; step: string; pid: number; startedAt: string } | null;
  /** What unattended renewal last did here (renewal-state.ts); null when renew never ran for it. */
  renewal: RenewalSummary | null;
  /** When the secret is missing: the TLS secrets of the namespace, to help find the right one. */
  tlsSecretsInNamespace?: string[];
}

export interface RenewalSummary {
  lastCheck: string | null;
  lastSuccess: string | null;
  lastAttempt: { at: string; result: string; exitCode: number; error?: string } | null;
  failures: number;
  failingSince: string | null;
  nextAttempt: string | null;
}

function renewalSummary(ns: string, secret: string): RenewalSummary | null {
  const r = readRenewalState(ns, secret);
  if (!r.lastCheck && !r.lastAttempt) return null;
  return {
    lastCheck: r.lastCheck ?? null,
    lastSuccess: r.lastSuccess ?? null,
    lastAttempt: r.lastAttempt ?? null,
    failures: r.failures,
    failingSince: r.failingSince ?? null,
    nextAttempt: r.nextAttempt ?? null,
  };
}

export type StatusOutcome =
  | { kind: 'one'; settings: Settings; report: StatusReport }
  | { kind: 'fleet'; settings: Settings; results: FleetResult<StatusReport>[] };

/**
 * Read every tenant. `tenantOut` reports the per-tenant work of a fleet (a marker's resolution);
 * one tenant reports through `out`.
 */
export async function readStatus(o: StatusOptions, out: Reporter, tenantOut: Reporter): Promise<StatusOutcome> {
  const s = resolveSettings(o.where);
  if (s.endpoint) parseEndpoint(s.endpoint); // a bad --endpoint is a usage error (exit 2), not a failed handshake
  const kubectl = new Kubectl({ namespace: s.namespace, context: s.context, kubeconfig: s.kubeconfig });
  const kubectlOf = (context: string | undefined, namespace = s.namespace) =>
    context === undefined && namespace === s.namespace
      ? kubectl
      : new Kubectl({ namespace, context: context ?? s.context, kubeconfig: s.kubeconfig });
  const { namespace, allNamespaces, selector, tenantsFile } = o.where;
  const { targets, lost } = await resolveFleet(
    { namespace, allNamespaces, selector, tenantsFile, contexts: contextsOf(o.where.context) },
    { namespace: s.namespace, secret: s.secret },
    (context) => kubectlOf(context),
  );
  if (targets.length === 1 && lost.length === 0) {
    const t = targets[0]!;
    const report = await out.wait(
      `reading ${t.namespace}/${t.secret}`,
      tenantStatus(
        kubectlOf(t.context, t.namespace),
        { ...t, endpoint: t.endpoint ?? s.endpoint },
        inContext(s, t),
        out,
      ),
    );
    return { kind: 'one', settings: s, report };
  }
  const results = await out.wait(
    `reading ${targets.length} tenants`,
    perCluster(targets, lost, async (context, group) => {
      const k = kubectlOf(context);
      const prefetched = await prefetch(k);
      return runFleet(group, parseParallel(o.parallel), (t) =>
        tenantStatus(k.forNamespace(t.namespace), t, inContext(s, t), tenantOut, prefetched(t)),
      );
    }),
  );
  return { kind: 'fleet', settings: s, results };
}

/** The settings as a tenant of another context sees them (its report names its context). */
const inContext = (s: Settings, t: Target): Settings => (t.context === undefined ? s : { ...s, context: t.context });

/** The error once the reports are shown: exit 1 when a tenant serves another certificate, 8 when one failed. */
export function statusProblem(o: StatusOutcome): XsoarCertError | undefined {
  if (o.kind === 'one') {
    const r = o.report;
    if (r.agree !== false) return undefined;
    return new CheckFailedError(
      `${r.served!.endpoint} does not serve the certificate installed in ${r.namespace}/${r.secret}`,
    );
  }
  const { results } = o;
  const failed = results.filter((r) => !r.ok || !r.value!.installed).length;
  const disagree = results.filter((r) => r.ok && r.value!.agree === false).length;
  if (failed)
    return new PartialError(
      `${failed} of ${results.length} tenants could not be read or have no certificate (see the table)`,
    );
  if (disagree)
    return new CheckFailedError(
      `${disagree} of ${results.length} tenants serve a different certificate than the one installed`,
    );
  return undefined;
}

interface Prefetched {
  secret: Lookup<SecretObject>;
  backups: SecretObject[];
  deployments: Deployment[];
}

/**
 * Several tenants: every TLS secret and deployment in two cluster-wide calls when RBAC allows. A
 * tenant whose secret is not among them (another type, or not there) is read on its own, which
 * also lists candidates.
 */
async function prefetch(kubectl: Kubectl): Promise<(t: Target) => Prefetched | undefined> {
  const all = kubectl.acrossNamespaces();
  const [secrets, deployments] = await Promise.all([
    all.listAllIfAllowed<SecretObject>('secrets', { fieldSelector: 'type=kubernetes.io/tls' }),
    all.listAllIfAllowed<Deployment>('deployments'),
  ]);
  return (t) => {
    const secret = secrets?.find((x) => x.metadata.namespace === t.namespace && x.metadata.name === t.secret);
    if (!secret || !deployments) return undefined; // namespaced roles only, or a secret of another type: read alone
    return {
      secret: { found: true, object: secret },
      backups: secrets!.filter(
        (x) => x.metadata.namespace === t.namespace && x.metadata.labels?.[LABEL_PREVIOUS_OF] === t.secret,
      ),
      deployments: deployments.filter((x) => x.metadata.namespace === t.namespace),
    };
  };
}

async function tenantStatus(
  kubectl: Kubectl,
  t: Target,
  s: Settings,
  out: Reporter,
  pre?: Prefetched,
): Promise<StatusReport> {
  // A run killed with SIGKILL left a marker: resolve it (roll back to its backup) before reporting.
  const elsewhere = markerOfAnotherCluster(t, s.context);
  if (elsewhere) throw elsewhere;
  const resolved = await resolveMarker(kubectl, t.namespace, t.secret, out, {
    endpoint: t.endpoint,
    servername: s.servername,
  });
  const { secret, backups, deployments } = pre && resolved === 'none' ? pre : await readTenant(kubectl, t.secret);
  const installed = secret.found ? installedFacts(secret.object) : null;
  const served = t.endpoint ? await servedFacts(t.endpoint, s.servername) : null;
  const agree =
    installed && served && 'sha256' in installed && 'sha256' in served ? installed.sha256 === served.sha256 : null;
  const marker = readMarker(t.namespace, t.secret);
  const mounting = deploymentsMounting(deployments, t.secret);
  // When the configured secret is missing, help find the right one (only a hint: errors give none).
  let candidates: string[] = [];
  if (!secret.found)
    candidates = (await kubectl.tlsSecretNames().catch(() => [] as string[])).filter((n) => !isBackupName(n));
  return {
    namespace: t.namespace,
    secret: t.secret,
    context: s.context ?? null,
    sources: s.sources,
    configFile: s.configFile,
    installed,
    served,
    agree,
    previousVersions: newestBackupsFirst(backups).map((b) => ({
      name: b.metadata.name,
      sha256: b.metadata.annotations?.[ANN.fingerprint] ?? null,
      notAfter: b.metadata.annotations?.[ANN.notAfter] ?? null,
    })),
    proxy: { setting: s.proxy, mounting },
    interrupted: marker ? { op: marker.op, step: marker.step, pid: marker.pid, startedAt: marker.startedAt } : null,
    renewal: renewalSummary(t.namespace, t.secret),
    tlsSecretsInNamespace: secret.found ? undefined : candidates,
  };
}

function installedFacts(secret: SecretObject): InstalledFacts {
  const c = installedLeaf(secret);
  if (!c) return { error: 'tls.crt holds no certificate' };
  const a = secret.metadata.annotations ?? {};
  const due = decideDue(
    { notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo) },
    DEFAULT_THRESHOLD,
    new Date(),
  );
  return {
    subject: c.subject.replace(/\n/g, ', '),
    names: leafFacts(c).names,
    sha256: c.fingerprint256,
    notAfter: new Date(c.validTo).toISOString(),
    daysLeft: Math.floor((new Date(c.validTo).getTime() - Date.now()) / DAY),
    renewAt: due.renewAt.toISOString(),
    installedAt: a[ANN.installedAt] ?? null,
    installedBy: a[ANN.installedBy] ?? null,
    resourceVersion: secret.metadata.resourceVersion,
  };
}

async function servedFacts(endpoint: string, servername: string | undefined): Promise<ServedFacts> {
  try {
    const r = await fetchServedChain(endpoint, { servername, timeoutMs: 5000 });
    const leaf = r.chain[0];
    if (!leaf) return { endpoint, error: 'no certificate' };
    return {
      endpoint,
      protocol: r.protocol,
      sha256: leaf.fingerprint256,
      notAfter: new Date(leaf.validTo).toISOString(),
      daysLeft: Math.floor((new Date(leaf.validTo).getTime() - Date.now()) / DAY),
    };
  } catch (err) {
    return { endpoint, error: (err as Error).message };
  }
}

async function readTenant(kubectl: Kubectl, secret: string): Promise<Prefetched> {
  const [found, backups, deployments] = await Promise.all([
    kubectl.getSecret(secret),
    kubectl.listSecrets(`${LABEL_PREVIOUS_OF}=${secret}`),
    kubectl.listDeployments(),
  ]);
  return { secret: found, backups, deployments };
}
