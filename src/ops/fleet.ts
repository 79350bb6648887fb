// Many tenants at once (multi-tenant XSOAR: one admin, many tenant namespaces).
// Targets come from repeated -n, from --all-namespaces --selector, or from a tenants file
// (one "namespace[/secret]" per line). Each tenant runs its own transaction, at most
// `parallel` at a time; one tenant's failure rolls back that tenant only.
import { readFile } from 'node:fs/promises';
import { InputError, UsageError, XsoarCertError, EXIT } from '../errors.js';
import { checkSettingText } from './settings.js';
import type { Kubectl } from '../k8s/kubectl.js';
import { checkK8sName, isK8sName } from '../k8s/names.js';
import { hasControl, quoted } from '../printable.js';
import { bounded } from '../pool.js';

export interface Target {
  namespace: string;
  secret: string;
  /** The tenant's HTTPS endpoint, from the tenants file's second column. */
  endpoint?: string;
}

export interface TargetFlags {
  namespace?: string[];
  allNamespaces?: boolean;
  selector?: string;
  tenantsFile?: string;
}

/**
 * Parse a tenants file: blank lines and # comments ignored; "ns[/secret] [host:port]" per line.
 * Names are RFC 1123 (./k8s/names.ts): they become kubectl arguments.
 */
export function parseTenantsFile(text: string, file: string, defaultSecret: string): Target[] {
  const out: Target[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const at = `${file}:${i + 1}`;
    const m = /^([^/\s]+)(?:\/([^/\s]+))?(?:[ \t]+([^\s]+:\d+))?$/.exec(line);
    if (!m || hasControl(line)) {
      throw new InputError(`${at}: ${quoted(line)} is not "namespace[/secret] [host:port]"`, { file });
    }
    const namespace = tenantName('namespace', m[1]!, at, file);
    const secret = m[2] === undefined ? defaultSecret : tenantName('secret', m[2], at, file);
    out.push({ namespace, secret, ...(m[3] ? { endpoint: m[3] } : {}) });
  });
  return out;
}

function tenantName(kind: 'namespace' | 'secret', value: string, at: string, file: string): string {
  if (isK8sName(kind, value)) return value;
  try {
    return checkK8sName(kind, value, { file: at });
  } catch (err) {
    throw new InputError((err as Error).message, { file, hint: 'Fix the name in the tenants file.' });
  }
}

/** Every target, de-duplicated, in the order given. */
export async function resolveTargets(
  flags: TargetFlags,
  defaults: { namespace: string; secret: string },
  kubectl?: Kubectl,
): Promise<Target[]> {
  const targets: Target[] = [];
  const add = (t: Target) => {
    if (!targets.some((x) => x.namespace === t.namespace && x.secret === t.secret)) targets.push(t);
  };
  for (const ns of flags.namespace ?? []) {
    add({ namespace: checkK8sName('namespace', ns, { flag: '--namespace' }), secret: defaults.secret });
  }
  if (flags.tenantsFile) {
    let text: string;
    try {
      text = await readFile(flags.tenantsFile, 'utf8');
    } catch (err) {
      throw new InputError(
        `${flags.tenantsFile}: cannot read the tenants file (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`,
        { file: flags.tenantsFile },
      );
    }
    for (const t of parseTenantsFile(text, flags.tenantsFile, defaults.secret)) add(t);
  }
  if (flags.allNamespaces) {
    if (!flags.selector)
      throw new UsageError('--all-namespaces needs --selector LABEL=VALUE (which namespaces are tenants?)');
    if (!kubectl) throw new UsageError('--all-namespaces needs a cluster');
    checkSettingText(flags.selector, { flag: '--selector' });
    const names = await kubectl.namespacesMatching(flags.selector);
    if (names.length === 0) throw new UsageError(`no namespace matches --selector ${flags.selector}`);
    for (const namespace of names) add({ namespace, secret: defaults.secret });
  }
  if (targets.length === 0) add(defaults);
  return targets;
}

export interface FleetResult<T> {
  target: Target;
  ok: boolean;
  value?: T;
  error?: string;
  exitCode?: number;
  ms: number;
}

/** Run `fn` for every target with at most `parallel` in flight; never throws for a tenant's failure. */
export async function runFleet<T>(
  targets: Target[],
  parallel: number,
  fn: (t: Target) => Promise<T>,
): Promise<FleetResult<T>[]> {
  const results: FleetResult<T>[] = new Array(targets.length);
  await bounded(targets, parallel, async (t, i) => {
    const started = Date.now();
    try {
      results[i] = { target: t, ok: true, value: await fn(t), ms: Date.now() - started };
    } catch (err) {
      const e = err as Error;
      results[i] = {
        target: t,
        ok: false,
        error: e.message,
        exitCode: err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL,
        ms: Date.now() - started,
      };
    }
  });
  return results;
}

export function parseParallel(v: string | undefined, dflt = 4): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`--parallel takes a whole number from 1 to 64, not "${v}"`);
  return n;
}

/** A plain table: tenant, result, detail. */
export function fleetTable<T>(results: FleetResult<T>[], describe: (v: T) => string): string {
  const rows = results.map((r) => [
    `${r.target.namespace}/${r.target.secret}`,
    r.ok ? 'ok' : `FAILED (exit ${r.exitCode})`,
    r.ok ? describe(r.value as T) : (r.error ?? ''),
  ]);
  const w0 = Math.max(6, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(6, ...rows.map((r) => r[1]!.length));
  const line = (r: string[]) => `${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`;
  const failed = results.filter((r) => !r.ok).length;
  return [
    line(['TENANT', 'RESULT', 'DETAIL']),
    ...rows.map(line),
    `${results.length - failed} ok, ${failed} failed`,
  ].join('\n');
}
