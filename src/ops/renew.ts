// `renew`: unattended, from cron. Reads the installed certificate from the secret; when it
// is due (default: the last third of its lifetime, like cert-manager), installs the newest
// valid newer certificate from a drop folder, or a new self-signed one with the same names,
// through the same transaction as install. Never prompts.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { InputError, KubectlError, UsageError } from '../errors.js';
import type { Output } from '../cli/output.js';
import { Kubectl } from '../k8s/kubectl.js';
import { executeTransaction, resolveMarker, type NewContent, type TransactionResult } from './transaction.js';
import { decideDue, pickCandidate, type Candidate, type Threshold } from './renew-policy.js';
import { verifyFiles } from './verify-files.js';
import { parseBundle } from '../pki/parse.js';

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
  passphraseFile?: string;
  dryRun?: boolean;
  timeoutS?: number;
  now?: Date;
  force?: boolean;
}

export type RenewResult =
  | { action: 'skipped'; reason: string; namespace: string; secret: string; fingerprint?: string; renewAt: string }
  | { action: 'renewed' | 'dry-run'; reason: string; namespace: string; secret: string; from: string; transaction: TransactionResult };

interface FolderCandidate extends Candidate {
  certFile: string;
  keyFile: string;
  content?: NewContent;
}

/** Pairs of cert + key in DIR: every file with a certificate, matched to a key file in the same folder. */
async function scanFolder(dir: string, opts: RenewOptions): Promise<FolderCandidate[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new InputError(`${dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`, { file: dir, hint: 'Point --from at the folder where new certificates are dropped.' });
  }
  const files: { file: string; certs: X509Certificate[]; hasKey: boolean }[] = [];
  for (const n of names.sort()) {
    const f = path.join(dir, n);
    if (!(await stat(f)).isFile()) continue;
    try {
      const { readFile } = await import('node:fs/promises');
      const b = parseBundle(await readFile(f), { source: f });
      files.push({ file: f, certs: b.certs.map((c) => c.cert), hasKey: b.keys.length > 0 });
    } catch {
      /* not a certificate or key (or encrypted): skipped; verify would say why */
    }
  }
  const keyFiles = files.filter((x) => x.hasKey);
  const out: FolderCandidate[] = [];
  const { keyMatchesCert } = await import('../pki/describe.js');
  const { readBundle } = await import('../pki/parse.js');
  for (const f of files.filter((x) => x.certs.length)) {
    const leaf = f.certs[0]!;
    if (leaf.ca) continue; // a CA bundle, not a candidate leaf
    let keyFile: string | undefined;
    for (const k of keyFiles) {
      const kb = await readBundle(k.file);
      if (kb.keys.some((key) => keyMatchesCert(key.key, leaf))) { keyFile = k.file; break; }
    }
    if (!keyFile) continue;
    const { report, material } = await verifyFiles({ cert: f.file, key: keyFile, ca: opts.ca, passphraseFile: opts.passphraseFile, tls: true });
    out.push({
      source: f.file, certFile: f.file, keyFile,
      notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), sha256: leaf.fingerprint256,
      verified: report.ok && Boolean(material), problem: report.checks.find((c) => c.status === 'fail')?.message,
      content: material ? (await import('../cli/commands/install-run.js')).contentFrom(material, f.file) : undefined,
    });
  }
  return out;
}

export async function runRenew(opts: RenewOptions, out: Output): Promise<RenewResult> {
  const kubectl = new Kubectl({ namespace: opts.namespace, context: opts.context, kubeconfig: opts.kubeconfig });
  await resolveMarker(kubectl, opts.namespace, opts.secret, out, { endpoint: opts.endpoint, servername: opts.servername });
  const cur = await kubectl.getSecret(opts.secret);
  if (!cur.found) throw new KubectlError(`secret "${opts.secret}" not found in ${kubectl.where()}`, { verb: 'get', args: [], reason: 'NotFound', hint: 'Check --namespace and --secret.' });
  const crt = cur.object.data?.['tls.crt'];
  const pem = crt ? Buffer.from(crt, 'base64').toString('latin1') : '';
  const m = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new InputError(`secret ${opts.namespace}/${opts.secret} holds no certificate in tls.crt`, { hint: 'Install one first with xsoar-cert install.' });
  const installed = new X509Certificate(m[0]);
  const life = { notBefore: new Date(installed.validFrom), notAfter: new Date(installed.validTo) };
  const now = opts.now ?? new Date();
  const due = decideDue(life, opts.threshold, now);
  if (!due.due && !opts.force) {
    out.ok(`${opts.namespace}/${opts.secret}: not due: ${due.reason}`);
    return { action: 'skipped', reason: due.reason, namespace: opts.namespace, secret: opts.secret, fingerprint: installed.fingerprint256, renewAt: due.renewAt.toISOString() };
  }
  out.step(`${opts.namespace}/${opts.secret}: due: ${due.reason}`);
  let content: NewContent;
  let from: string;
  if (opts.from) {
    const candidates = await scanFolder(opts.from, opts);
    const pick = pickCandidate({ ...life, sha256: installed.fingerprint256 }, candidates);
    for (const s of pick.skipped) out.warn(`skipped ${s.source}: ${s.why}`);
    if (!pick.ok) throw new InputError(`${opts.from}: ${pick.why}; the installed certificate ${due.reason}`, { file: opts.from, hint: 'Drop the renewed certificate and its key in that folder (they must pass xsoar-cert verify).' });
    const chosen = candidates.find((c) => c.source === pick.candidate.source)!;
    content = chosen.content!;
    from = chosen.certFile;
  } else if (opts.selfSigned) {
    const names = (installed.subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^DNS:|^IP Address:/, ''));
    if (names.length === 0) throw new UsageError(`the installed certificate in ${opts.namespace}/${opts.secret} has no SANs to copy`);
    const { generateDevLeaf } = await import('../pki/generate.js');
    const keyType = installed.publicKey.asymmetricKeyType === 'ec' ? 'ecdsa' : 'rsa';
    const leaf = await generateDevLeaf({ hosts: names, keyType });
    const leafCert = new X509Certificate(leaf.certPem);
    content = {
      data: { 'tls.crt': Buffer.from(leaf.certPem).toString('base64'), 'tls.key': Buffer.from(leaf.keyPem).toString('base64') },
      fingerprint: leafCert.fingerprint256, notAfter: new Date(leafCert.validTo).toISOString(), names: names.map((n) => n.toLowerCase()), label: 'a new self-signed certificate',
    };
    from = 'self-signed';
  } else {
    throw new UsageError('renew needs --from DIR or --self-signed');
  }
  const transaction = await executeTransaction(
    { op: 'renew', namespace: opts.namespace, secret: opts.secret, proxy: opts.proxy, endpoint: opts.endpoint, servername: opts.servername, context: opts.context, content, dryRun: opts.dryRun, timeoutS: opts.timeoutS },
    kubectl,
    out,
  );
  return { action: opts.dryRun ? 'dry-run' : 'renewed', reason: due.reason, namespace: opts.namespace, secret: opts.secret, from, transaction };
}
