import { X509Certificate } from 'node:crypto';
import { Output } from '../output.js';
import { resolveSettings, type SettingFlags } from '../../ops/settings.js';
import { Kubectl } from '../../k8s/kubectl.js';
import { ANN, LABEL_PREVIOUS_OF, deploymentsMounting, fingerprintOfPem, resolveMarker } from '../../ops/transaction.js';
import { readMarker } from '../../ops/state.js';
import { fetchServedChain } from '../../net/served-cert.js';
import { CheckFailedError } from '../../errors.js';

const DAY = 86_400_000;

export async function runStatus(flags: SettingFlags & { json?: boolean }): Promise<void> {
  const out = new Output({ json: flags.json });
  const s = resolveSettings(flags);
  const kubectl = new Kubectl({ namespace: s.namespace, context: s.context, kubeconfig: s.kubeconfig });
  // A run killed with SIGKILL left a marker: resolve it (roll back to its backup) before reporting.
  await resolveMarker(kubectl, s.namespace, s.secret, out, { endpoint: s.endpoint, servername: s.servername });
  const [secret, backups, deployments] = await Promise.all([
    kubectl.getSecret(s.secret),
    kubectl.listSecrets(`${LABEL_PREVIOUS_OF}=${s.secret}`),
    kubectl.listDeployments(),
  ]);
  let installed: Record<string, unknown> | null = null;
  if (secret.found) {
    const pem = Buffer.from(secret.object.data?.['tls.crt'] ?? '', 'base64').toString('latin1');
    const m = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
    const c = m ? new X509Certificate(m[0]) : undefined;
    const a = secret.object.metadata.annotations ?? {};
    installed = c
      ? { subject: c.subject.replace(/\n/g, ', '), names: fingerprintOfPem(m![0])!.names, sha256: c.fingerprint256, notAfter: new Date(c.validTo).toISOString(), daysLeft: Math.floor((new Date(c.validTo).getTime() - Date.now()) / DAY), installedAt: a[ANN.installedAt] ?? null, installedBy: a[ANN.installedBy] ?? null, resourceVersion: secret.object.metadata.resourceVersion }
      : { error: 'tls.crt holds no certificate' };
  }
  let served: Record<string, unknown> | null = null;
  if (s.endpoint) {
    try {
      const r = await fetchServedChain(s.endpoint, { servername: s.servername, timeoutMs: 5000 });
      const leaf = r.chain[0];
      served = leaf ? { endpoint: s.endpoint, protocol: r.protocol, sha256: leaf.fingerprint256, notAfter: new Date(leaf.validTo).toISOString(), daysLeft: Math.floor((new Date(leaf.validTo).getTime() - Date.now()) / DAY) } : { endpoint: s.endpoint, error: 'no certificate' };
    } catch (err) {
      served = { endpoint: s.endpoint, error: (err as Error).message };
    }
  }
  const agree = installed && served && 'sha256' in installed && 'sha256' in served ? installed.sha256 === served.sha256 : null;
  const marker = readMarker(s.namespace, s.secret);
  const mounting = deploymentsMounting(deployments, s.secret);
  // When the configured secret is missing, help find the right one.
  let candidates: string[] = [];
  if (!secret.found) {
    const all = await kubectl.call('get', ['secrets', '--field-selector', 'type=kubernetes.io/tls', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'], { allowFail: true });
    candidates = all.stdout.split('\n').filter((n) => n && !n.includes('-prev-'));
  }
  const report = {
    namespace: s.namespace, secret: s.secret, context: s.context ?? null, sources: s.sources, configFile: s.configFile,
    installed, served, agree,
    previousVersions: backups.map((b) => ({ name: b.metadata.name, sha256: b.metadata.annotations?.[ANN.fingerprint] ?? null, notAfter: b.metadata.annotations?.[ANN.notAfter] ?? null })).sort((x, y) => y.name.localeCompare(x.name)),
    proxy: { setting: s.proxy, mounting },
    interrupted: marker ? { op: marker.op, step: marker.step, pid: marker.pid, startedAt: marker.startedAt } : null,
    tlsSecretsInNamespace: secret.found ? undefined : candidates,
  };
  if (flags.json) out.emit(report);
  else {
    const src = (k: keyof typeof s.sources) => `(${s.sources[k]})`;
    out.result(`target     ${s.namespace} ${src('namespace')} / ${s.secret} ${src('secret')}${s.context ? `, context ${s.context}` : ''}; proxy ${s.proxy} ${src('proxy')} → ${mounting.map((d) => 'deployment/' + d).join(', ') || 'no deployment mounts it'}`);
    if (!secret.found) out.result(`installed  secret not found${candidates.length ? `; TLS secrets here: ${candidates.join(', ')} (use --secret)` : '; check --namespace (-n)'}`);
    else if (installed && 'sha256' in installed) out.result(`installed  ${installed.subject}  ${(installed.names as string[]).join(', ')}\n           sha256 ${installed.sha256}\n           expires ${installed.notAfter} (${installed.daysLeft} days)${installed.installedAt ? `; installed ${installed.installedAt} by ${installed.installedBy}` : ''}`);
    if (served) out.result('sha256' in served ? `served     ${served.endpoint} (${served.protocol}) sha256 ${served.sha256}` : `served     ${served.endpoint}: ${served.error}`);
    else out.result(`served     not checked (pass --endpoint HOST:PORT ${src('endpoint')})`);
    if (agree !== null) out.result(agree ? 'agree      yes: the endpoint serves the installed certificate' : 'agree      NO: the endpoint serves a different certificate (restart the proxy, or an install is in progress)');
    out.result(`previous   ${report.previousVersions.length ? report.previousVersions.map((b) => b.name).join(', ') : 'none'}`);
    if (marker) out.warn(`an interrupted ${marker.op} (pid ${marker.pid}, step ${marker.step}) is still running`);
  }
  if (agree === false) throw new CheckFailedError(`${s.endpoint} does not serve the certificate installed in ${s.namespace}/${s.secret}`);
}
