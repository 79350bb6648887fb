// `renew`: unattended, from cron. Reads the installed certificate from the secret; plans (pure:
// renew-policy.ts, with the source's renewal window when it has one) whether it is due; when it is,
// hands the engine the source's pending certificate, which the engine obtains only once the tenant
// passed every check (no ACME order for a tenant that cannot take it). Never prompts.
import { EXIT, InputError, KubectlError, UsageError, XsoarCertError } from '../errors.js';
import type { Reporter as Output } from './reporter.js';
import { Kubectl, type Lookup, type SecretObject } from '../k8s/kubectl.js';
import { acquireLock, type Lock } from './state.js';
import { runFleet, type FleetResult, type Target } from './fleet.js';
import { executeTransaction } from './txn/run.js';
import type { PendingContent, TransactionResult } from './txn/types.js';
import { installedLeaf } from './installed.js';
import { readPreflight, type Preflight } from './targets/k8s-secret/steps.js';
import { assertTlsSecret } from './targets/k8s-secret/plan.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';
import { planRenewal, type Threshold } from './renew-policy.js';
import type { FolderFile } from './sources/drop-folder.js';
import { completeRequest } from './requests.js';
import type { AcmeSettings } from './sources/acme.js';
import { namesOf, type CertificateSource, type Installed, type Obtained } from './sources/types.js';

export interface RenewOptions {
  namespace: string;
  secret: string;
  proxy: string;
  endpoint?: string;
  servername?: string;
  context?: string;
  kubeconfig?: string;
  threshold: Threshold;
  from?: string;
  selfSigned?: boolean;
  ca?: string;
  /** Extra intermediate files (--chain), for a drop folder that lacks them. */
  chain?: string[];
  /** Names the renewed certificate must cover (--host), checked like install. */
  hosts?: string[];
  allowNameChange?: boolean;
  noConfirm?: boolean;
  passphraseFile?: string;
  dryRun?: boolean;
  timeoutS?: number;
  now?: Date;
  force?: boolean;
  /** renew --acme: obtain the certificate from an ACME CA (sources/acme.ts). */
  acme?: AcmeSettings;
}

export type RenewResult =
  | { action: 'skipped'; reason: string; namespace: string; secret: string; fingerprint?: string; renewAt: string }
  | {
      action: 'renewed' | 'dry-run';
      reason: string;
      namespace: string;
      secret: string;
      from: string;
      transaction: TransactionResult;
      files?: FolderFile[];
    };

/** The certificate installed in the secret, or the error install would give (not found, not a TLS secret, empty). */
function readInstalled(opts: RenewOptions, cur: Lookup<SecretObject>): Installed {
  const where = `${opts.namespace}/${opts.secret}`;
  if (!cur.found)
    throw new KubectlError(`secret "${opts.secret}" not found in namespace "${opts.namespace}"`, {
      verb: 'get',
      args: [],
      reason: 'NotFound',
      hint: 'Check --namespace and --secret.',
    });
  assertTlsSecret(cur.object, `namespace "${opts.namespace}"`);
  const leaf = installedLeaf(cur.object);
  if (!leaf)
    throw new InputError(`secret ${where} holds no certificate in tls.crt`, {
      hint: 'Install one first with xsoar-cert install.',
    });
  const key = cur.object.data?.['tls.key'];
  return {
    where,
    leaf,
    names: namesOf(leaf),
    keyPem: key ? Buffer.from(key, 'base64').toString('utf8') || undefined : undefined,
  };
}

/** The source the flags name; one per run, so a fleet shares one folder scan and one order per name set. */
export async function sourceFor(opts: Omit<RenewOptions, 'namespace' | 'secret'>): Promise<CertificateSource> {
  if (opts.from) {
    const { dropFolderSource } = await import('./sources/drop-folder-source.js');
    return dropFolderSource({
      from: opts.from,
      chain: opts.chain,
      ca: opts.ca,
      hosts: opts.hosts,
      passphraseFile: opts.passphraseFile,
    });
  }
  if (opts.acme) {
    const { acmeSource } = await import('./sources/acme-source.js');
    return acmeSource(opts.acme, { hosts: opts.hosts, allowNameChange: opts.allowNameChange, ca: opts.ca });
  }
  if (opts.selfSigned) return (await import('./sources/self-signed.js')).selfSignedSource(opts.hosts ?? []);
  throw new UsageError('renew needs --from DIR, --acme URL or --self-signed');
}

type Decision = { skip: Extract<RenewResult, { action: 'skipped' }> } | { skip?: undefined; reason: string };

/** Is it due (the source's window, then the pure plan), and may the source renew it? Reads nothing from the cluster. */
async function decide(
  opts: RenewOptions,
  installed: Installed,
  source: CertificateSource,
  out: Output,
): Promise<Decision> {
  // A window the source cannot give is "no window" (a note, the threshold decides), never a hang or a failure.
  const note = (why: string) => out.warn(`${installed.where}: ${why}`);
  const w = source.window ? await source.window(installed, note) : undefined;
  const life = { notBefore: new Date(installed.leaf.validFrom), notAfter: new Date(installed.leaf.validTo) };
  const due = planRenewal(life, {
    threshold: opts.threshold,
    now: opts.now ?? new Date(),
    force: opts.force,
    windowStart: w?.start,
  });
  if (!due.due) {
    out.ok(`${installed.where}: not due: ${due.reason}`);
    const skip = { action: 'skipped' as const, reason: due.reason, namespace: opts.namespace, secret: opts.secret };
    return { skip: { ...skip, fingerprint: installed.leaf.fingerprint256, renewAt: due.renewAt.toISOString() } };
  }
  out.step(`${installed.where}: due: ${due.reason}`);
  source.check?.(installed); // before anything costs: a certificate that would be refused is not worth a CA's order
  return { reason: due.reason };
}

/** The engine's pending content for one tenant; what the source said comes back through `got`. */
function pending(
  source: CertificateSource,
  installed: Installed,
  out: Output,
  got: Map<string, Obtained>,
): PendingContent {
  return {
    describe: source.describe(),
    costly: source.costly,
    obtain: async () => {
      const o = await source.obtain(installed, out);
      got.set(installed.where, o);
      return o.content;
    },
  };
}

function renewed(
  opts: { dryRun?: boolean },
  t: Target,
  reason: string,
  source: CertificateSource,
  o: Obtained | undefined,
  transaction: TransactionResult,
): RenewResult {
  const action = opts.dryRun ? ('dry-run' as const) : ('renewed' as const);
  return {
    action,
    reason,
    namespace: t.namespace,
    secret: t.secret,
    from: o?.from ?? source.describe(),
    transaction,
    files: o?.files,
  };
}

export async function runRenew(opts: RenewOptions, out: Output): Promise<RenewResult> {
  const kubectl = new Kubectl({ namespace: opts.namespace, context: opts.context, kubeconfig: opts.kubeconfig });
  const t: Target = { namespace: opts.namespace, secret: opts.secret, endpoint: opts.endpoint };
  await resolveMarker(kubectl, opts.namespace, opts.secret, out, {
    endpoint: opts.endpoint,
    servername: opts.servername,
    dryRun: opts.dryRun,
  });
  const source = await sourceFor(opts);
  const installed = readInstalled(opts, await kubectl.getSecret(opts.secret));
  const d = await decide(opts, installed, source, out);
  if (d.skip) return d.skip;
  // The engine's read-only preflight starts now; the new certificate is obtained only once it passed.
  const preflight: Promise<Preflight> = readPreflight(kubectl, opts.secret);
  preflight.catch(() => undefined); // reported by the transaction that awaits it
  const got = new Map<string, Obtained>();
  const transaction = await executeTransaction(
    {
      op: 'renew',
      ...t,
      proxy: opts.proxy,
      servername: opts.servername,
      context: opts.context,
      content: pending(source, installed, out, got),
      allowNameChange: opts.allowNameChange,
      noConfirm: opts.noConfirm,
      dryRun: opts.dryRun,
      timeoutS: opts.timeoutS,
      preflight,
    },
    kubectl,
    out,
  );
  const o = got.get(installed.where);
  if (!opts.dryRun && o?.requestId !== undefined && transaction.result === 'installed')
    completeRequest(o.requestId, out);
  return renewed(opts, t, d.reason, source, o, transaction);
}

type FleetBase = Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>;

/** Each tenant's renew lock (held for the whole run) and any marker a killed run left; the tenants still going. */
async function lockAndResolve(
  targets: Target[],
  base: FleetBase,
  kubectl: Kubectl,
  out: Output,
  failed: (t: Target, err: unknown) => void,
  locks: Lock[],
): Promise<Target[]> {
  const live: Target[] = [];
  for (const t of targets) {
    try {
      if (!base.dryRun) locks.push(acquireLock(t.namespace, t.secret, 'renew'));
      await resolveMarker(kubectl.forNamespace(t.namespace), t.namespace, t.secret, out, {
        endpoint: t.endpoint,
        servername: base.servername,
        dryRun: base.dryRun,
      });
      live.push(t);
    } catch (err) {
      failed(t, err);
    }
  }
  return live;
}

/** Which tenants are due, each decided from its secret (read in one cluster-wide call where allowed). */
async function dueTenants(
  live: Target[],
  base: FleetBase,
  source: CertificateSource,
  kubectl: Kubectl,
  parallel: number,
  out: Output,
  settle: { skip: (t: Target, r: RenewResult) => void; failed: (t: Target, err: unknown) => void },
) {
  const wide = await kubectl
    .acrossNamespaces()
    .listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls']);
  const due: { t: Target; installed: Installed; reason: string }[] = [];
  await runFleet(live, parallel, async (t) => {
    const opts = { ...base, namespace: t.namespace, secret: t.secret, endpoint: t.endpoint };
    try {
      const hit = wide?.find((s) => s.metadata.namespace === t.namespace && s.metadata.name === t.secret);
      const installed = readInstalled(
        opts,
        hit ? { found: true, object: hit } : await kubectl.forNamespace(t.namespace).getSecret(t.secret),
      );
      const d = await decide(opts, installed, source, out);
      if (d.skip) settle.skip(t, d.skip);
      else due.push({ t, installed, reason: d.reason });
    } catch (err) {
      settle.failed(t, err);
    }
  });
  return due.sort((a, b) => live.indexOf(a.t) - live.indexOf(b.t)); // decided concurrently; renewed in the order given
}

/**
 * Renew many tenants in one run: every secret read in one cluster-wide call, one source for the
 * run (one folder scan, one ACME order per set of names), and the due tenants renewed in one
 * batched transaction (one tenant at a time when the user may not list across namespaces).
 */
export async function runRenewFleet(
  targets: Target[],
  base: FleetBase,
  parallel: number,
  out: Output,
): Promise<FleetResult<RenewResult>[]> {
  const kubectl = new Kubectl({ namespace: targets[0]!.namespace, context: base.context, kubeconfig: base.kubeconfig });
  const started = Date.now();
  const results = new Map<Target, FleetResult<RenewResult>>();
  const failed = (t: Target, err: unknown) =>
    results.set(t, {
      target: t,
      ok: false,
      error: (err as Error).message,
      exitCode: err instanceof XsoarCertError ? err.exitCode : EXIT.INTERNAL,
      ms: Date.now() - started,
    });
  const skip = (t: Target, value: RenewResult) =>
    results.set(t, { target: t, ok: true, value, ms: Date.now() - started });
  const locks: Lock[] = [];
  try {
    const live = await lockAndResolve(targets, base, kubectl, out, failed, locks);
    const source = await sourceFor(base);
    const due = await dueTenants(live, base, source, kubectl, parallel, out, { skip, failed });
    if (due.length) await renewDue(due, base, source, kubectl, parallel, out, results);
  } finally {
    for (const l of locks) l.release();
  }
  return targets.map((t) => results.get(t)!);
}

async function renewDue(
  due: { t: Target; installed: Installed; reason: string }[],
  base: FleetBase,
  source: CertificateSource,
  kubectl: Kubectl,
  parallel: number,
  out: Output,
  results: Map<Target, FleetResult<RenewResult>>,
): Promise<void> {
  const byTarget = new Map(due.map((x) => [x.t, x]));
  const got = new Map<string, Obtained>();
  const { executeFleetTransaction } = await import('./txn/run.js');
  const done = await executeFleetTransaction(
    {
      op: 'renew',
      targets: due.map((x) => x.t),
      proxy: base.proxy,
      servername: base.servername,
      context: base.context,
      content: (t) => pending(source, byTarget.get(t)!.installed, out, got),
      allowNameChange: base.allowNameChange,
      noConfirm: base.noConfirm,
      dryRun: base.dryRun,
      timeoutS: base.timeoutS,
      parallel,
    },
    kubectl,
    out,
  );
  const obtained = (t: Target) => got.get(byTarget.get(t)!.installed.where);
  // A pending request completed by the renewed certificate goes once every tenant using it succeeded.
  const requestIds = new Set(due.map((x) => obtained(x.t)?.requestId).filter((x): x is number => x !== undefined));
  for (const id of requestIds)
    if (!base.dryRun && done.filter((r) => obtained(r.target)?.requestId === id).every((r) => r.ok))
      completeRequest(id, out);
  for (const r of done) {
    if (!r.ok) results.set(r.target, { target: r.target, ok: false, error: r.error, exitCode: r.exitCode, ms: r.ms });
    else
      results.set(r.target, {
        ...r,
        value: renewed(base, r.target, byTarget.get(r.target)!.reason, source, obtained(r.target), r.value!),
      });
  }
}
