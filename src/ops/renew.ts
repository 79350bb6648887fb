// `renew`: unattended, from cron. Reads the installed certificate from the secret; when it
// is due (default: the last third of its lifetime, like cert-manager), installs the newest
// valid newer certificate from a drop folder, or a new self-signed one with the same names,
// through the same transaction as install. Never prompts.
import { EXIT, InputError, KubectlError, NameChangeError, UsageError, XsoarCertError } from '../errors.js';
import type { Reporter as Output } from './reporter.js';
import { Kubectl, type Lookup, type SecretObject } from '../k8s/kubectl.js';
import { acquireLock, type Lock } from './state.js';
import { runFleet, type FleetResult, type Target } from './fleet.js';
import { executeTransaction } from './txn/run.js';
import type { NewContent, TransactionResult } from './txn/types.js';
import { installedLeaf } from './installed.js';
import { readPreflight, type Preflight } from './targets/k8s-secret/steps.js';
import { resolveMarker } from './targets/k8s-secret/recovery.js';
import { decideDue, pickCandidate, type Threshold } from './renew-policy.js';
import type { Bundle } from '../pki/types.js';
import type { FolderFile, FolderScan } from './sources/drop-folder.js';
import { completeRequest } from './requests.js';
import type { AcmeSettings } from './sources/acme.js';

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
  /** One ACME order per distinct set of names in a fleet run (filled by runRenewFleet). */
  acmeOrders?: Map<string, Promise<NewContent>>;
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

type Decision =
  | { skip: Extract<RenewResult, { action: 'skipped' }> }
  | { skip?: undefined; reason: string; content: NewContent; from: string; files?: FolderFile[]; requestId?: number };

/**
 * Is the installed certificate due, and with what is it renewed? Reads nothing from the cluster:
 * `cur` is the secret as read; `folder` the drop folder's candidates, scanned once per run.
 */
async function decide(
  opts: RenewOptions,
  cur: Lookup<SecretObject>,
  folder: () => Promise<FolderScan>,
  out: Output,
  onDue: () => void = () => undefined,
): Promise<Decision> {
  if (!cur.found)
    throw new KubectlError(`secret "${opts.secret}" not found in namespace "${opts.namespace}"`, {
      verb: 'get',
      args: [],
      reason: 'NotFound',
      hint: 'Check --namespace and --secret.',
    });
  const installed = installedLeaf(cur.object);
  if (!installed)
    throw new InputError(`secret ${opts.namespace}/${opts.secret} holds no certificate in tls.crt`, {
      hint: 'Install one first with xsoar-cert install.',
    });
  const life = { notBefore: new Date(installed.validFrom), notAfter: new Date(installed.validTo) };
  const now = opts.now ?? new Date();
  let due = decideDue(life, opts.threshold, now);
  // RFC 9773: a CA that advertises renewalInfo suggests the window (it decides instead of the
  // threshold) and is told which certificate the new one replaces.
  // A renewalInfo that fails is "no window" (a note, the threshold decides), never a hang or a failure.
  const note = (why: string) => out.warn(`${opts.namespace}/${opts.secret}: ${why}`);
  const ari = opts.acme ? await (await import('./sources/acme.js')).renewalInfo(opts.acme, installed, note) : {};
  if (ari.window && !opts.force) due = windowDecision(ari.window, due, now);
  if (!due.due && !opts.force) {
    out.ok(`${opts.namespace}/${opts.secret}: not due: ${due.reason}`);
    return {
      skip: {
        action: 'skipped',
        reason: due.reason,
        namespace: opts.namespace,
        secret: opts.secret,
        fingerprint: installed.fingerprint256,
        renewAt: due.renewAt.toISOString(),
      },
    };
  }
  out.step(`${opts.namespace}/${opts.secret}: due: ${due.reason}`);
  onDue();
  if (opts.from) {
    const scan = await folder();
    const { describeUse, fileLine } = await import('./sources/drop-folder.js');
    const pick = pickCandidate({ ...life, sha256: installed.fingerprint256 }, scan.candidates);
    const chosen = pick.ok ? scan.candidates.find((c) => c.source === pick.candidate.source) : undefined;
    // Every file looked at is named with what it held and what became of it.
    const files = describeUse(scan, chosen, new Map(pick.skipped.map((x) => [x.source, x.why])));
    for (const f of files) {
      if (f.used) out.info(fileLine(f));
      else out.warn(fileLine(f));
    }
    if (!pick.ok || !chosen) {
      const err = new InputError(
        `${opts.from}: ${pick.ok ? 'no usable certificate' : pick.why}; the installed certificate ${due.reason}`,
        {
          file: opts.from,
          hint: 'Drop the renewed certificate, its key and its intermediates in that folder (they must pass xsoar-cert verify).',
        },
      );
      Object.assign(err, { details: { files } });
      throw err;
    }
    if (chosen.requestId !== undefined)
      out.info(`${chosen.certFile}: completes pending request ${chosen.requestId} (its key is used)`);
    return { reason: due.reason, content: chosen.content!, from: chosen.certFile, files, requestId: chosen.requestId };
  }
  if (opts.acme) {
    const acme = opts.acme;
    const installedNames = (installed.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((x) => x.replace(/^DNS:|^IP Address:/, '').toLowerCase());
    const names = [...new Set((opts.hosts?.length ? opts.hosts : installedNames).map((n) => n.toLowerCase()))];
    if (!names.length)
      throw new UsageError(
        `the installed certificate in ${opts.namespace}/${opts.secret} has no names to renew: pass --host NAME`,
      );
    // Checked before the order, not after it: a certificate that would be refused is not worth a CA's order.
    const dropped = installedNames.filter((n) => !names.includes(n));
    if (dropped.length && !opts.allowNameChange) {
      throw new NameChangeError(
        `the ACME order for ${names.join(', ')} would not cover ${dropped.join(', ')}, which the installed certificate covers (${opts.namespace}/${opts.secret})`,
        dropped,
        'Add them with --host, or pass --allow-name-change if the names really change (e.g. the first move from the self-signed certificate). Nothing was ordered or changed.',
      );
    }
    const key = `${names.slice().sort().join(',')}${acme.reuseKey ? `|${opts.namespace}/${opts.secret}` : ''}`;
    const currentKeyPem = acme.reuseKey
      ? Buffer.from(cur.object.data?.['tls.key'] ?? '', 'base64').toString('utf8') || undefined
      : undefined;
    const { acmeContent } = await import('./sources/acme.js');
    const get = () => acmeContent(acme, { names, currentKeyPem, trustCa: opts.ca, replaces: ari.certId }, out);
    let order = opts.acmeOrders?.get(key);
    if (!order) {
      order = get();
      opts.acmeOrders?.set(key, order);
    }
    return { reason: due.reason, content: await order, from: `ACME ${new URL(acme.directory).host}` };
  }
  if (opts.selfSigned) {
    const { selfSignedContent } = await import('./sources/self-signed.js');
    return {
      reason: due.reason,
      content: await selfSignedContent(installed, opts.hosts ?? [], `${opts.namespace}/${opts.secret}`),
      from: 'self-signed',
    };
  }
  throw new UsageError('renew needs --from DIR, --acme URL or --self-signed');
}

/** Due when the CA's suggested renewal window (ARI) has begun. */
function windowDecision(
  w: { start: Date },
  due: ReturnType<typeof decideDue>,
  now: Date,
): ReturnType<typeof decideDue> {
  return now >= w.start
    ? {
        ...due,
        due: true,
        reason: `inside the CA's renewal window (ARI, from ${w.start.toISOString()})`,
        renewAt: w.start,
      }
    : { ...due, due: false, reason: `the CA's renewal window (ARI) starts ${w.start.toISOString()}`, renewAt: w.start };
}

/** The drop folder, scanned (and every candidate verified) at most once per run. */
function folderOnce(opts: RenewOptions): () => Promise<FolderScan> {
  let scan: Promise<FolderScan> | undefined;
  return () => (scan ??= scanWithFlags(opts));
}

async function scanWithFlags(opts: RenewOptions): Promise<FolderScan> {
  const { readBundleWithPassphrase } = await import('./inputs.js');
  const read = (f: string) => readBundleWithPassphrase(f, { file: opts.passphraseFile, prompt: false });
  const chain: Bundle[] = await Promise.all((opts.chain ?? []).map(read));
  const ca = opts.ca ? await read(opts.ca) : undefined;
  if (opts.ca && ca && ca.certs.length === 0)
    throw new InputError(`${opts.ca}: holds no certificate: pass the root CA certificate with --ca`, { file: opts.ca });
  const { scanDropFolder } = await import('./sources/drop-folder.js');
  return scanDropFolder(opts.from!, {
    chain,
    ca,
    caSource: opts.ca,
    hosts: opts.hosts,
    passphraseFile: opts.passphraseFile,
  });
}

export async function runRenew(opts: RenewOptions, out: Output): Promise<RenewResult> {
  const kubectl = new Kubectl({ namespace: opts.namespace, context: opts.context, kubeconfig: opts.kubeconfig });
  await resolveMarker(kubectl, opts.namespace, opts.secret, out, {
    endpoint: opts.endpoint,
    servername: opts.servername,
    dryRun: opts.dryRun,
  });
  // Once it is due, the read-only cluster preflight runs while the new certificate is obtained
  // (an ACME order takes a second or more); the replace's resourceVersion precondition still
  // refuses a change made in between. A run that is not due costs one read.
  let preflight: Promise<Preflight> | undefined;
  const cur = await kubectl.getSecret(opts.secret);
  const d = await decide(opts, cur, folderOnce(opts), out, () => {
    preflight = readPreflight(kubectl, opts.secret);
    preflight.catch(() => undefined); // reported by the transaction that awaits it
  });
  if (d.skip) return d.skip;
  const transaction = await executeTransaction(
    {
      op: 'renew',
      namespace: opts.namespace,
      secret: opts.secret,
      proxy: opts.proxy,
      endpoint: opts.endpoint,
      servername: opts.servername,
      context: opts.context,
      content: d.content,
      allowNameChange: opts.allowNameChange,
      noConfirm: opts.noConfirm,
      dryRun: opts.dryRun,
      timeoutS: opts.timeoutS,
      preflight,
    },
    kubectl,
    out,
  );
  if (!opts.dryRun && d.requestId !== undefined && transaction.result === 'installed')
    completeRequest(d.requestId, out);
  return {
    action: opts.dryRun ? 'dry-run' : 'renewed',
    reason: d.reason,
    namespace: opts.namespace,
    secret: opts.secret,
    from: d.from,
    transaction,
    files: d.files,
  };
}

/**
 * Renew many tenants in one run: every secret read in one cluster-wide call, the folder scanned
 * once, and the due tenants renewed in one batched transaction (one tenant at a time when the
 * user may not list across namespaces). Each tenant's renew lock is held for the whole run.
 */
export async function runRenewFleet(
  targets: Target[],
  base: Omit<RenewOptions, 'namespace' | 'secret' | 'endpoint'>,
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
  const locks: Lock[] = [];
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
  try {
    const wide = await kubectl
      .acrossNamespaces()
      .listAllIfAllowed<SecretObject>('secrets', ['--field-selector', 'type=kubernetes.io/tls']);
    const folder = folderOnce({ ...base, namespace: '', secret: '' });
    const acmeOrders = new Map<string, Promise<NewContent>>();
    const due: { t: Target; d: Extract<Decision, { content: NewContent }> }[] = [];
    await runFleet(live, parallel, async (t) => {
      const opts = { ...base, namespace: t.namespace, secret: t.secret, endpoint: t.endpoint, acmeOrders };
      try {
        const hit = wide?.find((s) => s.metadata.namespace === t.namespace && s.metadata.name === t.secret);
        const d = await decide(
          opts,
          hit ? { found: true, object: hit } : await kubectl.forNamespace(t.namespace).getSecret(t.secret),
          folder,
          out,
        );
        if (d.skip) results.set(t, { target: t, ok: true, value: d.skip, ms: Date.now() - started });
        else due.push({ t, d });
      } catch (err) {
        failed(t, err);
      }
    });
    due.sort((a, b) => live.indexOf(a.t) - live.indexOf(b.t)); // decided concurrently; renewed in the order given
    if (due.length) {
      const byTarget = new Map(due.map((x) => [x.t, x.d]));
      const { executeFleetTransaction } = await import('./txn/run.js');
      const done = await executeFleetTransaction(
        {
          op: 'renew',
          targets: due.map((x) => x.t),
          proxy: base.proxy,
          servername: base.servername,
          context: base.context,
          content: (t) => byTarget.get(t)!.content,
          allowNameChange: base.allowNameChange,
          noConfirm: base.noConfirm,
          dryRun: base.dryRun,
          timeoutS: base.timeoutS,
          parallel,
        },
        kubectl,
        out,
      );
      // A pending request completed by the renewed certificate goes once every tenant using it succeeded.
      const requestIds = new Set(due.map((x) => x.d.requestId).filter((x): x is number => x !== undefined));
      for (const id of requestIds)
        if (!base.dryRun && done.filter((r) => byTarget.get(r.target)!.requestId === id).every((r) => r.ok))
          completeRequest(id, out);
      for (const r of done) {
        const d = byTarget.get(r.target)!;
        if (r.ok)
          results.set(r.target, {
            ...r,
            value: {
              action: base.dryRun ? 'dry-run' : 'renewed',
              reason: d.reason,
              namespace: r.target.namespace,
              secret: r.target.secret,
              from: d.from,
              transaction: r.value!,
              files: d.files,
            },
          });
        else results.set(r.target, { target: r.target, ok: false, error: r.error, exitCode: r.exitCode, ms: r.ms });
      }
    }
  } finally {
    for (const l of locks) l.release();
  }
  return targets.map((t) => results.get(t)!);
}
