// `xsoar-cert status`: what is installed, what is served, whether they agree, what can be rolled
// back to (read by ops/status.ts; rendered here, one block for a tenant, one row each for a fleet).
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import { addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';
import type { Output } from '../output.js';
import type { Settings } from '../../ops/settings.js';
import type { StatusOutcome, StatusReport } from '../../ops/status.js';
import { addFileFlags, FILES_HELP } from '../file-flags.js';
import type { FileTargetFlags } from '../../ops/targets/files/presets.js';

type StatusFlags = TargetFlags & FileTargetFlags & { json?: boolean; metricsFile?: string };

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description(
      'show the installed and the served certificate, whether they agree, previous versions, ' +
        'and where the settings came from',
    );
  addFileFlags(addFleetFlags(addTargetFlags(cmd, true)), false)
    .option('--json', 'print JSON')
    .option('--metrics-file <file>', "write the tenants' metrics here (node_exporter textfile collector)")
    .addHelpText(
      'after',
      SETTINGS_HELP +
        FILES_HELP +
        helpAfter(
          'xsoar-cert status -n xsoar --endpoint xsoar.example.com:443',
          'xsoar-cert status --files /etc/nginx/tls/t.pem,/etc/nginx/tls/t.key --endpoint 127.0.0.1:443',
          'xsoar-cert status --json',
          '# every tenant, one row each (endpoints from the second column of the file):',
          'xsoar-cert status --tenants-file tenants.txt',
          'xsoar-cert status -A -l app.kubernetes.io/part-of=xsoar --json',
          '# two clusters: tenants-file lines "site-a:tenant-1 10.0.0.5:443", or every tenant in each context:',
          'xsoar-cert status --context site-a --context site-b -A -l app.kubernetes.io/part-of=xsoar',
        ),
    )
    .action(async (flags: StatusFlags) => runStatus(flags));
}

async function runStatus(flags: StatusFlags): Promise<void> {
  const { Output } = await import('../output.js');
  const out = new Output({ json: flags.json });
  const { fileTargetOf } = await import('../file-flags.js');
  const files = await fileTargetOf(flags);
  if (files) return (await import('../files-commands.js')).statusFiles(flags.endpoint, files, out);
  const { readStatus, statusProblem } = await import('../../ops/status.js');
  // A fleet's per-tenant notes (a marker resolved) are warnings only, shown even with --json.
  const outcome = await readStatus({ where: flags, parallel: flags.parallel }, out, new Output({ quiet: true }));
  if (outcome.kind === 'one') {
    if (flags.json) out.emit(outcome.report);
    else printOne(outcome.report, outcome.settings, out);
  } else if (flags.json) emitFleet(outcome, out);
  else await printFleet(outcome, out);
  if (flags.metricsFile) await writeMetrics(outcome, flags.metricsFile);
  const problem = statusProblem(outcome);
  if (problem) throw problem;
}

/** --metrics-file: the same tenants, as Prometheus reads them (ops/metrics.ts). */
async function writeMetrics(outcome: StatusOutcome, file: string): Promise<void> {
  const path = await import('node:path');
  const { writeFleetMetrics } = await import('../../ops/metrics.js');
  const s = outcome.settings;
  const targets =
    outcome.kind === 'one'
      ? [
          {
            namespace: outcome.report.namespace,
            secret: outcome.report.secret,
            endpoint: outcome.report.served?.endpoint,
          },
        ]
      : outcome.results.map((r) => r.target);
  await writeFleetMetrics(targets, path.resolve(file), { context: s.context, kubeconfig: s.kubeconfig });
}

function emitFleet({ results, settings }: StatusOutcome & { kind: 'fleet' }, out: Output): void {
  out.emit({
    ok: results.every((r) => r.ok && r.value!.agree !== false && r.value!.installed),
    tenants: results.map((r) =>
      r.ok
        ? r.value
        : {
            namespace: r.target.namespace,
            secret: r.target.secret,
            context: r.target.context ?? settings.context ?? null,
            error: r.error,
            exitCode: r.exitCode,
          },
    ),
  });
}

/** One row per tenant: TENANT INSTALLED EXPIRES RENEW-DUE SERVED PREVIOUS. */
async function printFleet({ results }: StatusOutcome & { kind: 'fleet' }, out: Output): Promise<void> {
  const { tenantLabel } = await import('../../ops/fleet.js');
  const rows = results.map((r) => {
    const v = r.value;
    const inst = v?.installed && 'sha256' in v.installed ? v.installed : undefined;
    const installed = !r.ok
      ? `ERROR: ${r.error}`
      : inst
        ? `${inst.sha256.slice(0, 11)}…`
        : v?.installed
          ? String((v.installed as { error: string }).error)
          : 'secret not found';
    return [
      tenantLabel(r.target),
      installed,
      inst ? `${inst.notAfter.slice(0, 10)} (${inst.daysLeft}d)` : '-',
      inst ? inst.renewAt.slice(0, 10) : '-',
      !v?.served ? '-' : 'sha256' in v.served ? (v.agree ? 'yes' : 'NO: differs') : `error: ${v.served.error}`,
      v ? String(v.previousVersions.length) : '-',
    ];
  });
  const head = ['TENANT', 'INSTALLED', 'EXPIRES', 'RENEW DUE', 'SERVED', 'PREVIOUS'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) out.result(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  '));
}

function printOne(report: StatusReport, s: Settings, out: Output): void {
  const { installed, served, agree, interrupted: marker } = report;
  const src = (k: keyof typeof s.sources) => `(${s.sources[k]})`;
  const mounting = report.proxy.mounting.map((d) => 'deployment/' + d).join(', ') || 'no deployment mounts it';
  out.result(
    `target     ${report.namespace} ${src('namespace')} / ${report.secret} ${src('secret')}` +
      `${s.context ? `, context ${s.context}` : ''}; proxy ${s.proxy} ${src('proxy')} → ${mounting}`,
  );
  const others = report.tlsSecretsInNamespace;
  if (!installed)
    out.result(
      'installed  secret not found' +
        (others?.length ? `; TLS secrets here: ${others.join(', ')} (use --secret)` : '; check --namespace (-n)'),
    );
  else if ('sha256' in installed)
    out.result(
      `installed  ${installed.subject}  ${installed.names.join(', ')}\n           sha256 ${installed.sha256}\n` +
        `           expires ${installed.notAfter} (${installed.daysLeft} days); ` +
        `renew due ${installed.renewAt.slice(0, 10)}` +
        (installed.installedAt ? `; installed ${installed.installedAt} by ${installed.installedBy}` : ''),
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
        : 'agree      NO: the endpoint serves a different certificate ' +
            '(restart the proxy, or an install is in progress)',
    );
  const previous = report.previousVersions.map((b) => b.name).join(', ');
  out.result(`previous   ${previous || 'none'}`);
  const renewal = renewalLine(report.renewal);
  if (renewal) out.result(`renewal    ${renewal}`);
  if (marker) out.warn(`an interrupted ${marker.op} (pid ${marker.pid}, step ${marker.step}) is still running`);
}

/** What unattended renewal last did: failing since when and why, or when it last succeeded and checked. */
export function renewalLine(r: StatusReport['renewal']): string | undefined {
  if (!r) return undefined;
  if (r.failures > 0) {
    const last = r.lastAttempt
      ? `, last error (exit ${r.lastAttempt.exitCode}): ${r.lastAttempt.error ?? r.lastAttempt.result}`
      : '';
    const next = r.nextAttempt ? `; next attempt after ${r.nextAttempt}` : '';
    return `FAILING since ${r.failingSince}, ${r.failures} attempt(s)${last}${next}`;
  }
  const ok = r.lastSuccess ? `last renewed ${r.lastSuccess}` : 'never renewed by renew';
  return r.lastCheck ? `${ok}; last checked ${r.lastCheck}` : ok;
}
