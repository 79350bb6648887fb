// `install` as an operation: verify the files, find the tenants, resolve what a killed run left,
// then run the transaction (one tenant) or one batched transaction (many), and complete the
// pending request the certificate answered. Plan, then execute: planInstall reads and checks,
// executeInstall changes. The cli maps flags to InstallOptions, asks the questions (InstallPrompts)
// and renders the outcome.
import { BusyError, CancelledError, CheckFailedError, PartialError, UsageError } from '../errors.js';
import { Kubectl } from '../k8s/kubectl.js';
import type { VerifiedMaterial, VerifyReport } from '../pki/types.js';
import type { Reporter } from './reporter.js';
import { resolveSettings, type SettingFlags, type Settings } from './settings.js';
import { verifyFiles, type VerifyFilesOptions, type VerifyFilesResult } from './verify-files.js';
import { contextsOf, parseParallel, resolveFleet, type FleetResult, type Target, type TargetFlags } from './fleet.js';
import { markerOfAnotherCluster, perCluster } from './clusters.js';
import { executeFleetTransaction, executeTransaction } from './txn/run.js';
import type { Change, TransactionResult } from './txn/types.js';
import { readPreflight, type Preflight } from './targets/k8s-secret/steps.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';
import { readMarker } from './state.js';
import { contentFrom } from './content.js';
import { completeRequest, describePending } from './requests.js';

export interface InstallOptions {
  files: VerifyFilesOptions & { cert: string; hosts: string[] };
  /** Where the tenants are: the settings flags and the fleet selection (-n, -A -l, --tenants-file). */
  where: SettingFlags & TargetFlags;
  parallel?: string;
  timeoutS: number;
  dryRun?: boolean;
  allowNameChange?: boolean;
  keepRequest?: boolean;
  /** --no-confirm: the endpoint is neither checked before nor confirmed after. */
  noConfirm?: boolean;
}

export interface InstallPlan {
  o: InstallOptions;
  settings: Settings;
  material: VerifiedMaterial;
  /** The pending request whose key completes the certificate (no --key given). */
  request?: VerifyFilesResult['request'];
  targets: Target[];
  /** With several --context: the -A -l selections that failed in a cluster (one failed row each). */
  lost: FleetResult<TransactionResult>[];
  kubectl: Kubectl;
  parallel: number;
  /** The single tenant's preflight reads, started before the verification. */
  early?: Promise<Preflight>;
}

export type InstallVerdict = { ok: true; plan: InstallPlan } | { ok: false; report: VerifyReport };

/** The questions install asks; the cli answers them (ops never prompts). */
export interface InstallPrompts {
  /** Several tenants, not a dry run: asked once before anything changes. */
  fleet(count: number, fingerprint: string): Promise<boolean>;
  /** One tenant: asked with its plan, before anything changes. */
  proceed(change: Change): Promise<boolean>;
}

export type InstallOutcome =
  | { kind: 'fleet'; results: FleetResult<TransactionResult>[] }
  | { kind: 'one'; result: TransactionResult; request?: { id: number; completed: boolean } };

/**
 * Verify the files and find the tenants; nothing changes. `pre` is a verification the wizard
 * already showed, so its lines are not repeated.
 */
export async function planInstall(o: InstallOptions, out: Reporter, pre?: VerifyFilesResult): Promise<InstallVerdict> {
  const settings = resolveSettings(o.where);
  const early = startPreflight(o, settings);
  const shown = pre !== undefined;
  if (!shown) out.step(`Verify: ${o.files.cert}`);
  const verified = pre ?? (await verifyFiles(o.files));
  const { report, material, request } = verified;
  if (!report.ok || !material) return { ok: false, report };
  if (!shown)
    out.ok(
      `verified: ${material.leaf.subject}, expires ${material.leaf.notAfter}, ${report.warnings} warning(s); ` +
        'TLS 1.2 and 1.3 handshakes OK',
    );
  if (request) out.info(request.using);
  if (!shown) {
    for (const c of report.checks.filter((x) => x.status === 'warn')) out.warn(c.message);
    // What the served chain leaves out of the files, and why (said, not done silently).
    for (const c of report.checks.filter((x) => x.status === 'info' && x.id !== 'request')) out.info(`· ${c.message}`);
  }
  const kubectl = new Kubectl({
    namespace: settings.namespace,
    context: settings.context,
    kubeconfig: settings.kubeconfig,
  });
  const parallel = parseParallel(o.parallel);
  const { namespace, allNamespaces, selector, tenantsFile } = o.where;
  const { targets, lost } = await resolveFleet(
    { namespace, allNamespaces, selector, tenantsFile, contexts: contextsOf(o.where.context) },
    { namespace: settings.namespace, secret: settings.secret },
    (context) => (context === undefined ? kubectl : kubectlOf(settings, settings.namespace, context)),
  );
  return { ok: true, plan: { o, settings, material, request, targets, lost, kubectl, parallel, early } };
}

/** The Kubectl of a namespace in a tenant's context (the run's own when it names none). */
function kubectlOf(s: Settings, namespace: string, context: string | undefined): Kubectl {
  return new Kubectl({ namespace, context: context ?? s.context, kubeconfig: s.kubeconfig });
}

/**
 * One tenant and no interrupted run to resolve: the read-only cluster preflight starts before the
 * verification, so the proxy's start-up and the reads overlap it (a failed verify still reports first).
 */
function startPreflight(o: InstallOptions, settings: Settings): Promise<Preflight> | undefined {
  const w = o.where;
  const single = !w.allNamespaces && !w.tenantsFile && (w.namespace?.length ?? 0) <= 1 && !contextsOf(w.context);
  if (!single || o.dryRun || readMarker(settings.namespace, settings.secret)) return undefined;
  const early = readPreflight(
    new Kubectl({ namespace: settings.namespace, context: settings.context, kubeconfig: settings.kubeconfig }),
    settings.secret,
  );
  early.catch(() => undefined); // reported by the transaction that awaits it
  return early;
}

/** The error for files that failed verification (after the cli showed the checks). */
export function installRefusal(o: InstallOptions, report: VerifyReport): Error {
  const { cert, key } = o.files;
  if (!key && !report.checks.some((c) => c.id === 'key-match' && c.status !== 'skip')) {
    return new UsageError(
      `install needs --key FILE: ${cert} holds no key, and no pending certificate request matches it ` +
        `(${describePending()})`,
      'Pass the key with --key, or the certificate issued for a pending request (xsoar-cert csr --list).',
    );
  }
  return new CheckFailedError(
    `${cert}: not fit to serve: ${report.failures} check(s) failed; nothing was changed`,
    'Fix the problems above, or run "xsoar-cert verify" for details.',
  );
}

/** Change the tenants the plan found: one transaction, or one batched transaction for several. */
export async function executeInstall(p: InstallPlan, out: Reporter, ask: InstallPrompts): Promise<InstallOutcome> {
  if (p.targets.length + p.lost.length > 1) return { kind: 'fleet', results: await installFleet(p, out, ask) };
  return installOne(p, out, ask);
}

async function installFleet(
  p: InstallPlan,
  out: Reporter,
  ask: InstallPrompts,
): Promise<FleetResult<TransactionResult>[]> {
  const { o, targets } = p;
  // Many tenants: ask once; a failure rolls back that tenant only.
  if (!o.dryRun && !(await ask.fleet(targets.length, p.material.leaf.sha256))) throw new CancelledError();
  // One batched transaction per cluster: each step is one request (or a few) for every tenant in it.
  return perCluster(targets, p.lost, (context, group) => installCluster(p, context, group, out));
}

/** One cluster's tenants: a killed run's markers (a file check; the cluster only if one exists), then the batch. */
async function installCluster(
  p: InstallPlan,
  context: string | undefined,
  group: Target[],
  out: Reporter,
): Promise<FleetResult<TransactionResult>[]> {
  const { o, settings } = p;
  const quiet = out.quietCopy();
  const refused: FleetResult<TransactionResult>[] = [];
  const going: Target[] = [];
  for (const t of group) {
    const elsewhere = markerOfAnotherCluster(t, context ?? settings.context);
    if (elsewhere) {
      refused.push({ target: t, ok: false, error: elsewhere.message, exitCode: elsewhere.exitCode, ms: 0 });
      continue;
    }
    const k = kubectlOf(settings, t.namespace, context);
    const resolved = await resolveMarker(k, t.namespace, t.secret, quiet, { endpoint: t.endpoint, dryRun: o.dryRun });
    if (resolved === 'running') throw busy(t);
    going.push(t);
  }
  if (!going.length) return refused;
  const done = await executeFleetTransaction(
    {
      targets: going,
      proxy: settings.proxy,
      servername: settings.servername ?? o.files.hosts[0],
      context: context ?? settings.context,
      content: contentFrom(p.material, o.files.cert),
      accepted: o.files.accept,
      allowNameChange: o.allowNameChange,
      noConfirm: o.noConfirm,
      dryRun: o.dryRun,
      timeoutS: o.timeoutS,
      parallel: p.parallel,
    },
    context === undefined ? p.kubectl : kubectlOf(settings, going[0]!.namespace, context),
    out,
  );
  return [...refused, ...done];
}

/** After the fleet's table: exit 8 when a tenant failed (the request is kept), else complete the request. */
export function finishFleetInstall(p: InstallPlan, results: FleetResult<TransactionResult>[], out: Reporter): void {
  const failed = results.filter((r) => !r.ok).length;
  if (failed) {
    const kept = p.request ? `; pending request ${p.request.id} is kept` : '';
    throw new PartialError(
      `${failed} of ${results.length} tenants failed (each was rolled back or left unchanged; see the table)${kept}`,
    );
  }
  finishRequest(p, out);
}

async function installOne(p: InstallPlan, out: Reporter, ask: InstallPrompts): Promise<InstallOutcome> {
  const { o, settings } = p;
  const target = p.targets[0]!;
  const k1 =
    target.namespace === settings.namespace && target.context === undefined
      ? p.kubectl
      : kubectlOf(settings, target.namespace, target.context);
  const endpoint = target.endpoint ?? settings.endpoint;
  const elsewhere = markerOfAnotherCluster(target, target.context ?? settings.context);
  if (elsewhere) throw elsewhere;
  const resolved = await resolveMarker(k1, target.namespace, target.secret, out, {
    endpoint,
    servername: settings.servername,
    dryRun: o.dryRun,
  });
  if (resolved === 'running') throw busy(target);
  // The early reads are of the default tenant as it was before any marker was resolved.
  const sameTenant =
    target.namespace === settings.namespace && target.secret === settings.secret && target.context === undefined;
  const result = await executeTransaction(
    {
      op: 'install',
      namespace: target.namespace,
      secret: target.secret,
      proxy: settings.proxy,
      endpoint,
      servername: settings.servername ?? o.files.hosts[0],
      context: target.context ?? settings.context,
      content: contentFrom(p.material, o.files.cert),
      accepted: o.files.accept,
      allowNameChange: o.allowNameChange,
      noConfirm: o.noConfirm,
      dryRun: o.dryRun,
      timeoutS: o.timeoutS,
      confirm: (c) => ask.proceed(c),
      preflight: resolved === 'none' && sameTenant ? p.early : undefined,
    },
    k1,
    out,
  );
  if (result.result === 'cancelled') throw new CancelledError();
  if (result.result === 'installed') finishRequest(p, out);
  const completed = result.result === 'installed' && !o.keepRequest;
  return { kind: 'one', result, ...(p.request ? { request: { id: p.request.id, completed } } : {}) };
}

/** The certificate completed a pending request and is installed everywhere: its key now lives in the secret. */
function finishRequest(p: InstallPlan, out: Reporter): void {
  const id = p.request?.id;
  if (id === undefined || p.o.dryRun) return;
  if (p.o.keepRequest) out.info(`pending request ${id} is kept (--keep-request)`);
  else completeRequest(id, out);
}

const busy = (t: Target) =>
  new BusyError(`another xsoar-cert run is changing ${t.namespace}/${t.secret}`, 'Wait for it to finish.');
