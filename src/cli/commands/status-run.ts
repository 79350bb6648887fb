import { Output } from '../output.js';
import { resolveSettings, type Settings } from '../../ops/settings.js';
import type { TargetFlags } from '../target-flags.js';
import { Kubectl, type DeploymentObject, type Lookup, type SecretObject } from '../../k8s/kubectl.js';
import {
  ANN,
  LABEL_PREVIOUS_OF,
  deploymentsMounting,
  isBackupName,
  newestBackupsFirst,
} from '../../ops/targets/k8s-secret/plan.js';
import { installedLeaf, leafFacts } from '../../ops/installed.js';
import { resolveMarker } from '../../ops/targets/k8s-secret/recovery.js';
import { readMarker } from '../../ops/state.js';
import { DEFAULT_THRESHOLD, decideDue } from '../../ops/renew-policy.js';
import { fetchServedChain } from '../../net/served-cert.js';
import { CheckFailedError, PartialError } from '../../errors.js';

const DAY = 86_400_000;

type StatusTarget = { namespace: string; secret: string; endpoint?: string };

export async function runStatus(flags: TargetFlags & { json?: boolean }): Promise<void> {
  const out = new Output({ json: flags.json });
  const s = resolveSettings(flags);
  const kubectl = new Kubectl({ namespace: s.namespace, context: s.context, kubeconfig: s.kubeconfig });
  const { resolveTargets, runFleet, parseParallel } = await import('../../ops/fleet.js');
  const targets = await resolveTargets(
    {
      namespace: flags.namespace,
      allNamespaces: flags.allNamespaces,
      selector: flags.selector,
      tenantsFile: flags.tenantsFile,
    },
    { namespace: s.namespace, secret: s.secret },
    kubectl,
  );
  if (targets.length === 1) {
    const t = targets[0]!;
    const k =
      t.namespace === s.namespace
        ? kubectl
        : new Kubectl({ namespace: t.namespace, context: s.context, kubeconfig: s.kubeconfig });
    const report = await out.wait(
      `reading ${t.namespace}/${t.secret}`,
      tenantStatus(k, { ...t, endpoint: t.endpoint ?? s.endpoint }, s, out),
    );
    if (flags.json) out.emit(report);
    else printOne(report, s, out);
    if (report.agree === false)
      throw new CheckFailedError(
        `${report.served!.endpoint} does not serve the certificate installed in ${t.namespace}/${t.secret}`,
      );
    return;
  }
  // Several tenants: one row each (the endpoint comes from the tenants file's second column).
  // Read every TLS secret and deployment in two cluster-wide calls when RBAC allows; a tenant whose
  // secret is not among them (another type, or not there) is read on its own, which also lists candidates.
  const quiet = new Output({ quiet: true });
  const all = kubectl.acrossNamespaces();
  const [secrets, deployments] = await Promise.all([
    all.listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls']),
    all.listAllIfAllowed<DeploymentObject>('deployments'),
  ]);
  const prefetched = (t: StatusTarget): Prefetched | undefined => {
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
  const results = await out.wait(
    `reading ${targets.length} tenants`,
    runFleet(targets, parseParallel(flags.parallel), (t) =>
      tenantStatus(kubectl.forNamespace(t.namespace), t, s, quiet, prefetched(t)),
    ),
  );
  if (flags.json)
    out.emit({
      ok: results.every((r) => r.ok && r.value!.agree !== false && r.value!.installed),
      tenants: results.map((r) =>
        r.ok
          ? r.value
          : { namespace: r.target.namespace, secret: r.target.secret, error: r.error, exitCode: r.exitCode },
      ),
    });
  else {
    const rows = results.map((r) => {
      const v = r.value;
      const inst = v?.installed && 'sha256' in v.installed ? v.installed : undefined;
      return [
        `${r.target.namespace}/${r.target.secret}`,
        !r.ok
          ? `ERROR: ${r.error}`
          : inst
            ? `${String(inst.sha256).slice(0, 11)}…`
            : v?.installed
              ? String(v.installed.error)
              : 'secret not found',
        inst ? `${String(inst.notAfter).slice(0, 10)} (${inst.daysLeft}d)` : '-',
        inst ? String(inst.renewAt).slice(0, 10) : '-',
        !v?.served ? '-' : 'sha256' in v.served ? (v.agree ? 'yes' : 'NO: differs') : `error: ${v.served.error}`,
        v ? String(v.previousVersions.length) : '-',
      ];
    });
    const head = ['TENANT', 'INSTALLED', 'EXPIRES', 'RENEW DUE', 'SERVED', 'PREVIOUS'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) out.result(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  '));
  }
  const failed = results.filter((r) => !r.ok || !r.value!.installed).length;
  const disagree = results.filter((r) => r.ok && r.value!.agree === false).length;
  if (failed)
    throw new PartialError(
      `${failed} of ${targets.length} tenants could not be read or have no certificate (see the table)`,
    );
  if (disagree)
    throw new CheckFailedError(
      `${disagree} of ${targets.length} tenants serve a different certificate than the one installed`,
    );
}

interface Prefetched {
  secret: Lookup<SecretObject>;
  backups: SecretObject[];
  deployments: DeploymentObject[];
}

async function tenantStatus(kubectl: Kubectl, t: StatusTarget, s: Settings, out: Output, pre?: Prefetched) {
  // A run killed with SIGKILL left a marker: resolve it (roll back to its backup) before reporting.
  const resolved = await resolveMarker(kubectl, t.namespace, t.secret, out, {
    endpoint: t.endpoint,
    servername: s.servername,
  });
  const { secret, backups, deployments } = pre && resolved === 'none' ? pre : await readTenant(kubectl, t.secret);
  let installed: Record<string, unknown> | null = null;
  if (secret.found) {
    const c = installedLeaf(secret.object);
    const a = secret.object.metadata.annotations ?? {};
    // When `renew` with its default threshold (the last third of the lifetime) would replace it.
    const renewAt = c
      ? decideDue(
          { notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo) },
          DEFAULT_THRESHOLD,
          new Date(),
        ).renewAt.toISOString()
      : undefined;
    installed = c
      ? {
          subject: c.subject.replace(/\n/g, ', '),
          names: leafFacts(c).names,
          sha256: c.fingerprint256,
          notAfter: new Date(c.validTo).toISOString(),
          daysLeft: Math.floor((new Date(c.validTo).getTime() - Date.now()) / DAY),
          renewAt,
          installedAt: a[ANN.installedAt] ?? null,
          installedBy: a[ANN.installedBy] ?? null,
          resourceVersion: secret.object.metadata.resourceVersion,
        }
      : { error: 'tls.crt holds no certificate' };
  }
  let served: Record<string, unknown> | null = null;
  if (t.endpoint) {
    try {
      const r = await fetchServedChain(t.endpoint, { servername: s.servername, timeoutMs: 5000 });
      const leaf = r.chain[0];
      served = leaf
        ? {
            endpoint: t.endpoint,
            protocol: r.protocol,
            sha256: leaf.fingerprint256,
            notAfter: new Date(leaf.validTo).toISOString(),
            daysLeft: Math.floor((new Date(leaf.validTo).getTime() - Date.now()) / DAY),
          }
        : { endpoint: t.endpoint, error: 'no certificate' };
    } catch (err) {
      served = { endpoint: t.endpoint, error: (err as Error).message };
    }
  }
  const agree =
    installed && served && 'sha256' in installed && 'sha256' in served ? installed.sha256 === served.sha256 : null;
  const marker = readMarker(t.namespace, t.secret);
  const mounting = deploymentsMounting(deployments, t.secret);
  // When the configured secret is missing, help find the right one.
  let candidates: string[] = [];
  if (!secret.found) {
    candidates = (await kubectl.tlsSecretNames().catch(() => [] as string[])).filter((n) => !isBackupName(n)); // only a hint
  }
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
    tlsSecretsInNamespace: secret.found ? undefined : candidates,
  };
}

async function readTenant(kubectl: Kubectl, secret: string): Promise<Prefetched> {
  const [found, backups, deployments] = await Promise.all([
    kubectl.getSecret(secret),
    kubectl.listSecrets(`${LABEL_PREVIOUS_OF}=${secret}`),
    kubectl.listDeployments(),
  ]);
  return { secret: found, backups, deployments };
}

type StatusReport = Awaited<ReturnType<typeof tenantStatus>>;

function printOne(report: StatusReport, s: Settings, out: Output): void {
  const { installed, served, agree, interrupted: marker } = report;
  const mounting = report.proxy.mounting;
  const src = (k: keyof typeof s.sources) => `(${s.sources[k]})`;
  out.result(
    `target     ${report.namespace} ${src('namespace')} / ${report.secret} ${src('secret')}${s.context ? `, context ${s.context}` : ''}; proxy ${s.proxy} ${src('proxy')} → ${mounting.map((d) => 'deployment/' + d).join(', ') || 'no deployment mounts it'}`,
  );
  if (!installed)
    out.result(
      `installed  secret not found${report.tlsSecretsInNamespace?.length ? `; TLS secrets here: ${report.tlsSecretsInNamespace.join(', ')} (use --secret)` : '; check --namespace (-n)'}`,
    );
  else if ('sha256' in installed)
    out.result(
      `installed  ${installed.subject}  ${(installed.names as string[]).join(', ')}\n           sha256 ${installed.sha256}\n           expires ${installed.notAfter} (${installed.daysLeft} days); renew due ${String(installed.renewAt).slice(0, 10)}${installed.installedAt ? `; installed ${installed.installedAt} by ${installed.installedBy}` : ''}`,
    );
  if (served)
    out.result(
      'sha256' in served
        ? `served     ${served.endpoint} (${served.protocol}) sha256 ${served.sha256}`
        : `served     ${served.endpoint}: ${served.error}`,
    );
  else out.result(`served     not checked (pass --endpoint HOST:PORT ${src('endpoint')})`);
  if (agree !== null)
    out.result(
      agree
        ? 'agree      yes: the endpoint serves the installed certificate'
        : 'agree      NO: the endpoint serves a different certificate (restart the proxy, or an install is in progress)',
    );
  out.result(
    `previous   ${report.previousVersions.length ? report.previousVersions.map((b) => b.name).join(', ') : 'none'}`,
  );
  if (marker) out.warn(`an interrupted ${marker.op} (pid ${marker.pid}, step ${marker.step}) is still running`);
}
