// The fleet's health as a Prometheus text exposition (format 0.0.4), for node_exporter's textfile
// collector: a *.prom file replaced whole (written beside it under a name the collector ignores,
// then renamed), so a scrape never reads half a file. It holds no secrets: mode 0644.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Target } from './fleet.js';
import { gatherHealth, type HealthKubectl, type HealthOptions, type TenantHealth } from './health.js';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

/** A label value: backslash, double quote and line feed escaped (exposition format). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Families with at least one sample, each as HELP, TYPE and its samples together. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (f.samples.length === 0) continue;
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      lines.push(`${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

interface FamilyDef {
  name: string;
  type: MetricFamily['type'];
  help: string;
  /** The tenant's value, or undefined to leave the tenant out of the family. */
  value: (h: TenantHealth) => number | undefined;
}

const servedUp = (h: TenantHealth) => (h.served ? ('matches' in h.served ? 1 : 0) : undefined);
const servedMatches = (h: TenantHealth) => (h.served && 'matches' in h.served ? (h.served.matches ? 1 : 0) : undefined);

/** The metrics per tenant, labelled namespace and secret (and context, when named); an unknown fact is left out. */
export const FAMILIES: readonly FamilyDef[] = [
  {
    name: 'xsoar_cert_not_after_timestamp_seconds',
    type: 'gauge',
    help: 'When the installed certificate expires (Unix time).',
    value: (h) => (h.installed ? seconds(h.installed.notAfter) : undefined),
  },
  {
    name: 'xsoar_cert_installed_ok',
    type: 'gauge',
    help: 'Whether the installed certificate could be read (0: no secret, no certificate, or no cluster answer).',
    value: (h) => (h.installed ? 1 : 0),
  },
  {
    name: 'xsoar_cert_renewal_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'When the last renewal succeeded (Unix time).',
    value: (h) => (h.state?.lastSuccess ? seconds(h.state.lastSuccess) : undefined),
  },
  {
    name: 'xsoar_cert_renewal_last_attempt_timestamp_seconds',
    type: 'gauge',
    help: 'When the last renewal was attempted (Unix time).',
    value: (h) => (h.state?.lastAttempt ? seconds(h.state.lastAttempt.at) : undefined),
  },
  {
    name: 'xsoar_cert_renewal_last_result',
    type: 'gauge',
    help: "The exit code of the last renewal attempt (0: renewed; see xsoar-cert's exit codes).",
    value: (h) => h.state?.lastAttempt?.exitCode,
  },
  {
    name: 'xsoar_cert_renewal_failures_total',
    type: 'counter',
    help: 'Failed renewal attempts since the last success (back to 0 when one succeeds).',
    value: (h) => h.state?.failures,
  },
  {
    name: 'xsoar_cert_endpoint_up',
    type: 'gauge',
    help: "Whether the tenant's endpoint completed a TLS handshake (only when an endpoint is known).",
    value: servedUp,
  },
  {
    name: 'xsoar_cert_served_matches_installed',
    type: 'gauge',
    help: "Whether the tenant's endpoint serves the installed certificate (only when an endpoint is known).",
    value: servedMatches,
  },
];

export function healthFamilies(healths: readonly TenantHealth[]): MetricFamily[] {
  return FAMILIES.map(({ value, ...f }) => ({
    ...f,
    samples: healths.flatMap((h) => {
      const v = value(h);
      const where = { ...(h.context ? { context: h.context } : {}), namespace: h.namespace, secret: h.secret };
      return v === undefined ? [] : [{ labels: where, value: v }];
    }),
  }));
}

export function renderMetrics(healths: readonly TenantHealth[]): string {
  return renderFamilies(healthFamilies(healths));
}

/**
 * Replace `file` whole: written beside it as ".NAME.PID.RANDOM.tmp" (not *.prom: the textfile
 * collector skips it), then renamed over it. Mode 0644: node_exporter runs as another user.
 */
export async function writeMetricsFile(file: string, text: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    created = true;
    try {
      await fh.writeFile(text);
      await fh.chmod(0o644); // whatever the umask
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
    throw new InputError(`${file}: cannot write the metrics file (${code})`, {
      file,
      hint: "Pass a file in a folder this user may write, e.g. node_exporter's --collector.textfile.directory.",
    });
  }
}

/**
 * For renew and status (`--metrics-file`): read these tenants' health (one secret list, their
 * renewal state, their endpoints) and replace `file` with its metrics. Returns what was read.
 */
export async function writeFleetMetrics(
  targets: readonly Target[],
  file: string,
  kubectlOpts: HealthKubectl = {},
  opts: HealthOptions = {},
): Promise<TenantHealth[]> {
  const healths = await gatherHealth(targets, kubectlOpts, opts);
  await writeMetricsFile(file, renderMetrics(healths));
  return healths;
}
