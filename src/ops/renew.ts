// `renew`: unattended, from cron. Reads the installed certificate from the secret; plans (pure:
// renew-policy.ts, with the source's renewal window when it has one) whether it is due; when it is,
// hands the engine the source's pending certificate, which the engine obtains only once the tenant
// passed every check (no ACME order for a tenant that cannot take it). Never prompts.
import { InputError, KubectlError, UsageError } from '../errors.js';
import type { Reporter as Output } from './reporter.js';
import { Kubectl, type Lookup } from '../k8s/kubectl.js';
import type { SecretObject } from '../k8s/secrets.js';
import type { Target } from './fleet.js';
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
import { backingOff, remember, type Skipped } from './renew-record.js';
import { markerOfAnotherCluster } from './clusters.js';

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
  | Skipped
  | {
      action: 'renewed' | 'dry-run';
      reason: string;
      namespace: string;
      secret: string;
      from: string;
      transaction: TransactionResult;
      files?: FolderFile[];
      /** The new certificate's expiry. */
      notAfter?: string;
    };

/** The certificate installed in the secret, or the error install would give (not found, not a TLS secret, empty). */
export function readInstalled(opts: RenewOptions, cur: Lookup<SecretObject>): Installed {
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
export async function sourceFor(
  opts: Omit<RenewOptions, 'namespace' | 'secret' | 'proxy' | 'context' | 'kubeconfig'>,
): Promise<CertificateSource> {
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
export async function decide(
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
    const notAfter = new Date(installed.leaf.validTo).toISOString();
    return {
      skip: { ...skip, fingerprint: installed.leaf.fingerprint256, renewAt: due.renewAt.toISOString(), notAfter },
    };
  }
  out.step(`${installed.where}: due: ${due.reason}`);
  source.check?.(installed); // before anything costs: a certificate that would be refused is not worth a CA's order
  return { reason: due.reason };
}

/** The engine's pending content for one tenant; what the source said comes back through `got`. */
export function pending(
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

export function renewed(
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
    notAfter: o?.content.notAfter,
  };
}

/** One tenant: within a backoff nothing is tried; otherwise renew it and keep the attempt on record. */
export async function runRenew(opts: RenewOptions, out: Output): Promise<RenewResult> {
  const t: Target = { namespace: opts.namespace, secret: opts.secret, endpoint: opts.endpoint };
  const wait = backingOff(t, opts, out);
  if (wait) return wait;
  const stage = { inEngine: false };
  try {
    const r = await renewOne(opts, t, out, stage);
    if (!opts.dryRun) remember(t, r.action === 'skipped' ? { skipped: r } : { renewed: r });
    return r;
  } catch (error) {
    if (!opts.dryRun) remember(t, { error, inEngine: stage.inEngine });
    throw error;
  }
}

async function renewOne(
  opts: RenewOptions,
  t: Target,
  out: Output,
  stage: { inEngine: boolean },
): Promise<RenewResult> {
  const kubectl = new Kubectl({ namespace: opts.namespace, context: opts.context, kubeconfig: opts.kubeconfig });
  const elsewhere = markerOfAnotherCluster(t, opts.context);
  if (elsewhere) throw elsewhere;
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
  stage.inEngine = true;
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
