// Many tenants at once (multi-tenant XSOAR: one admin, many tenant namespaces, maybe many clusters).
// Targets come from repeated -n, from --all-namespaces --selector, or from a tenants file
// (one "[context:]namespace[/secret] [host:port]" per line), in one kubeconfig context or several
// (--context repeated). Each tenant runs its own transaction; one tenant's failure rolls back that
// tenant only, and an unreachable cluster fails its own tenants (perCluster).
import { readFile } from 'node:fs/promises';
import { InputError, UsageError, XsoarCertError, EXIT } from '../errors.js';
import { checkSettingText } from './settings.js';
import type { Kubectl } from '../k8s/kubectl.js';
import { checkK8sName, isK8sName } from '../k8s/names.js';
import { hasControl, quoted } from '../printable.js';
import { bounded } from '../pool.js';
import { frugalHeapFor } from '../heap.js';

export interface Target {
  namespace: string;
  secret: string;
  /** The tenant's HTTPS endpoint, from the tenants file's second column. */
  endpoint?: string;
  /** The kubeconfig context, when the tenants file or a repeated --context names one (else the run's). */
  context?: string;
}

export interface TargetFlags {
  namespace?: string[];
  allNamespaces?: boolean;
  selector?: string;
  tenantsFile?: string;
  /** --context given more than once: -n, -A -l and the default tenant in each of them. */
  contexts?: string[];
}

/** A secret's key in a fleet's maps: namespace/name (RFC 1123 names hold no "/"). */
export const secretKey = (ns: string, name: string) => `${ns}/${name}`;

/** A target's key, its cluster included: a tenants file may name the same secret in several contexts. */
export const targetKey = (t: Pick<Target, 'context' | 'namespace' | 'secret'>) =>
  `${t.context ?? ''}\n${secretKey(t.namespace, t.secret)}`;

/**
 * A tenants file line: "[context:]namespace[/secret] [host:port]". Namespaces and secrets never hold
 * a colon (RFC 1123), so the context is everything before the first column's last colon: a context
 * named like an EKS ARN ("arn:aws:eks:…:cluster/x") keeps its colons and slashes, and a line without
 * a colon means what it always meant.
 */
const LINE = /^(?:(\S+):)?([^/\s:]+)(?:\/([^/\s:]+))?(?:[ \t]+(\S+:\d+))?$/;

/**
 * Parse a tenants file: blank lines and # comments ignored; "[context:]ns[/secret] [host:port]" per
 * line. Names are RFC 1123 (./k8s/names.ts): they become request paths.
 */
export function parseTenantsFile(text: string, file: string, defaultSecret: string): Target[] {
  const out: Target[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const at = `${file}:${i + 1}`;
    const m = LINE.exec(line);
    if (!m || hasControl(line)) {
      throw new InputError(`${at}: ${quoted(line)} is not "[context:]namespace[/secret] [host:port]"`, { file });
    }
    const context = m[1] === undefined ? undefined : tenantName('context', m[1], at, file);
    const namespace = tenantName('namespace', m[2]!, at, file);
    const secret = m[3] === undefined ? defaultSecret : tenantName('secret', m[3], at, file);
    out.push({ namespace, secret, ...(m[4] ? { endpoint: m[4] } : {}), ...(context ? { context } : {}) });
  });
  return out;
}

function tenantName(kind: 'namespace' | 'secret' | 'context', value: string, at: string, file: string): string {
  if (isK8sName(kind, value)) return value;
  try {
    return checkK8sName(kind, value, { file: at });
  } catch (err) {
    throw new InputError((err as Error).message, { file, hint: 'Fix the name in the tenants file.' });
  }
}

/** The Kubectl of a context (undefined: the run's own), for -A -l in each cluster. */
export type KubectlFor = (context: string | undefined) => Kubectl;

/** Every target, de-duplicated, in the order given. */
export async function resolveTargets(
  flags: TargetFlags,
  defaults: { namespace: string; secret: string },
  kubectl?: Kubectl | KubectlFor,
): Promise<Target[]> {
  return (await resolveFleet(flags, defaults, kubectl)).targets;
}

/**
 * The targets, and with several --context the selections that failed in one cluster (`lost`, one
 * row "CONTEXT:*" each): an unreachable cluster fails its own part of the run, not the run.
 */
export async function resolveFleet(
  flags: TargetFlags,
  defaults: { namespace: string; secret: string },
  kubectl?: Kubectl | KubectlFor,
): Promise<{ targets: Target[]; lost: FleetResult<never>[] }> {
  const many = (flags.contexts?.length ?? 0) > 1;
  const contexts = many ? flags.contexts! : [undefined];
  const targets: Target[] = [];
  const lost: FleetResult<never>[] = [];
  const seen = new Set<string>();
  const add = (t: Target) => {
    const key = targetKey(t);
    if (seen.has(key)) return;
    seen.add(key);
    targets.push(t);
  };
  const inContext = (ctx: string | undefined) => (ctx === undefined ? {} : { context: ctx });
  for (const ctx of contexts)
    for (const ns of flags.namespace ?? [])
      add({
        namespace: checkK8sName('namespace', ns, { flag: '--namespace' }),
        secret: defaults.secret,
        ...inContext(ctx),
      });
  if (flags.tenantsFile) for (const t of await readTenantsFile(flags.tenantsFile, defaults.secret, many)) add(t);
  if (flags.allNamespaces) {
    if (!flags.selector)
      throw new UsageError('--all-namespaces needs --selector LABEL=VALUE (which namespaces are tenants?)');
    if (!kubectl) throw new UsageError('--all-namespaces needs a cluster');
    checkSettingText(flags.selector, { flag: '--selector' });
    const kubectlFor: KubectlFor = typeof kubectl === 'function' ? kubectl : () => kubectl;
    for (const ctx of contexts) {
      try {
        const names = await kubectlFor(ctx).namespacesMatching(flags.selector);
        if (names.length === 0)
          throw new UsageError(`no namespace matches --selector ${flags.selector}${ctx ? ` in context ${ctx}` : ''}`);
        for (const namespace of names) add({ namespace, secret: defaults.secret, ...inContext(ctx) });
      } catch (err) {
        if (!many) throw err;
        lost.push(failedRow({ namespace: '*', secret: defaults.secret, ...inContext(ctx) }, err, 0));
      }
    }
  }
  if (targets.length === 0 && lost.length === 0) for (const ctx of contexts) add({ ...defaults, ...inContext(ctx) });
  frugalHeapFor(targets.length);
  return { targets, lost };
}

async function readTenantsFile(file: string, defaultSecret: string, manyContexts: boolean): Promise<Target[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `${file}: cannot read the tenants file (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`,
      { file },
    );
  }
  const targets = parseTenantsFile(text, file, defaultSecret);
  const bare = targets.find((t) => t.context === undefined);
  // With several --context a line without one could mean any of them: say which, never guess.
  if (manyContexts && bare)
    throw new UsageError(
      `${file}: ${bare.namespace}/${bare.secret} names no context, and --context is given more than once`,
      'Write its context on the line (CONTEXT:namespace[/secret]), or pass one --context.',
    );
  return targets;
}

/** A tenant's failed result, from an error. */
export function failedRow<T>(target: Target, err: unknown, ms: number): FleetResult<T> {
  const exitCode = err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL;
  return { target, ok: false, error: (err as Error)?.message ?? String(err), exitCode, ms };
}

/** "namespace/secret", or "context:namespace/secret" when the tenant names its context (the file's syntax). */
export function tenantLabel(t: Target): string {
  return `${t.context === undefined ? '' : `${t.context}:`}${t.namespace}/${t.secret}`;
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
    tenantLabel(r.target),
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

/** --context repeated: every context, checked; undefined for one or none (the settings decide). */
export function contextsOf(flag: string | string[] | undefined): string[] | undefined {
  if (!Array.isArray(flag) || flag.length < 2) return undefined;
  return [...new Set(flag.map((c) => checkK8sName('context', c, { flag: '--context' })))];
}
