import { UsageError, CheckFailedError } from '../../errors.js';
import { Output } from '../output.js';
import { resolveSettings } from '../../ops/settings.js';
import { verifyFiles } from '../../ops/verify-files.js';
import { Kubectl } from '../../k8s/kubectl.js';
import { executeTransaction, resolveMarker, type Plan, type NewContent } from '../../ops/transaction.js';
import type { VerifiedMaterial } from '../../pki/types.js';
import type { InstallFlags } from './install.js';

export function contentFrom(m: VerifiedMaterial, label: string): NewContent {
  const data: Record<string, string> = {
    'tls.crt': Buffer.from(m.chainPem).toString('base64'),
    'tls.key': Buffer.from(m.keyPem).toString('base64'),
  };
  if (m.rootPem) data['ca.crt'] = Buffer.from(m.rootPem).toString('base64');
  return { data, fingerprint: m.leaf.sha256, notAfter: m.leaf.notAfter, names: [...m.leaf.dnsNames, ...m.leaf.ipAddresses].map((n) => n.toLowerCase()), label };
}

export async function askToProceed(p: Plan, out: Output, yes?: boolean): Promise<boolean> {
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) return true; // cron and scripts never prompt
  out.info(`About to replace ${p.namespace}/${p.secret} and restart ${p.deployments.map((d) => `deployment/${d}`).join(', ')}.`);
  const { confirmPrompt } = await import('../prompts.js');
  return confirmPrompt('Proceed?');
}

export async function runInstall(flags: InstallFlags): Promise<void> {
  const out = new Output({ json: flags.json, quiet: flags.quiet });
  if (!flags.cert) throw new UsageError('install needs --cert FILE (and --key FILE)', 'Example: xsoar-cert install --cert tenant.pem --key tenant-key.pem --host xsoar.example.com');
  const timeoutS = Number(flags.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout must be a number of seconds, not "${flags.timeout}"`);
  const settings = resolveSettings(flags);
  out.step(`Verify: ${flags.cert}`);
  const { report, material } = await verifyFiles({ cert: flags.cert, key: flags.key, chain: flags.chain, ca: flags.ca, hosts: flags.host, passphraseFile: flags.passphraseFile });
  if (!report.ok || !material) {
    const { printChecks } = await import('../print-checks.js');
    if (!flags.json) printChecks(new Output({ quiet: false }), report);
    else out.emit({ ok: false, stage: 'verify', report });
    if (!flags.key) throw new UsageError('install needs --key FILE (or a PKCS#12 --cert holding the key)');
    throw new CheckFailedError(`${flags.cert}: not fit to serve: ${report.failures} check(s) failed; nothing was changed`, 'Fix the problems above, or run "xsoar-cert verify" for details.');
  }
  out.ok(`verified: ${material.leaf.subject}, expires ${material.leaf.notAfter}, ${report.warnings} warning(s); TLS 1.2 and 1.3 handshakes OK`);
  for (const c of report.checks.filter((x) => x.status === 'warn')) out.warn(c.message);
  const kubectl = new Kubectl({ namespace: settings.namespace, context: settings.context, kubeconfig: settings.kubeconfig });
  const resolved = await resolveMarker(kubectl, settings.namespace, settings.secret, out, { endpoint: settings.endpoint, servername: settings.servername });
  if (resolved === 'running') {
    const { BusyError } = await import('../../errors.js');
    throw new BusyError(`another xsoar-cert run is changing ${settings.namespace}/${settings.secret}`, 'Wait for it to finish.');
  }
  const result = await executeTransaction(
    {
      op: 'install', namespace: settings.namespace, secret: settings.secret, proxy: settings.proxy, endpoint: settings.endpoint, servername: settings.servername ?? flags.host[0],
      context: settings.context, content: contentFrom(material, flags.cert), allowNameChange: flags.allowNameChange, dryRun: flags.dryRun, timeoutS,
      confirm: (p) => askToProceed(p, out, flags.yes),
    },
    kubectl,
    out,
  );
  if (result.result === 'cancelled') {
    const { CancelledError } = await import('../../errors.js');
    throw new CancelledError();
  }
  if (flags.json) {
    out.emit({ ok: true, ...result });
    return;
  }
  if (result.result === 'dry-run') {
    out.result('Dry run: nothing was changed. The plan (tls.key redacted):');
    out.result(JSON.stringify({ backup: result.plan.backupManifest, secret: result.plan.secretManifest, restart: result.deployments.map((d) => `deployment/${d}`) }, null, 2));
    return;
  }
  out.result(`Installed ${result.newFingerprint} in ${result.namespace}/${result.secret}${result.confirmed ? ' and confirmed it is served' : ''}; previous version kept as ${result.backup}.`);
}
