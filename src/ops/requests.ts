// Pending certificate requests: the key is born on the tenant host and waits here, in the state
// dir (folder 0700, key files 0600), until the signed certificate comes back. Then install (or
// verify, chain, renew --from) finds it by public key, and a successful install removes it: the
// key then lives in the Kubernetes secret. Never printed, never in JSON, never in argv.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { installedLeaf } from './installed.js';
import {
  createStateFile,
  ensureStateFolder,
  readStateFile,
  removeQuietly,
  stateDir,
  stateFolder,
} from '../state-dir.js';
import type { KeyEntry } from '../pki/types.js';
import type { Reporter } from './reporter.js';

export interface PendingRequest {
  id: number;
  created: string;
  /** The names asked for, CN first. */
  names: string[];
  subject: string;
  key: string; // "ecdsa P-256", "rsa 4096"
  /** Where the CSR was written (absolute). */
  csrFile: string;
  /** SHA-256 of the public key (SubjectPublicKeyInfo DER), upper-case hex with colons. */
  publicKeySha256: string;
  /** The targets it was made for with --from-installed (namespace/secret), if any. */
  for?: string[];
}

const dir = () => path.join(stateDir(), 'requests');

export const spkiSha256 = (spki: Buffer) =>
  createHash('sha256').update(spki).digest('hex').toUpperCase().match(/../g)!.join(':');

/** Every pending request, oldest first. A damaged entry is skipped (it is listed by `csr --list` as such). */
export function listRequests(): PendingRequest[] {
  const d = stateFolder('requests', false);
  let names: string[];
  try {
    names = d ? readdirSync(d) : [];
  } catch {
    return [];
  }
  const out: PendingRequest[] = [];
  for (const n of names.filter((x) => /^\d+\.json$/.test(x))) {
    let r: PendingRequest | undefined;
    try {
      r = JSON.parse(readStateFile(path.join(dir(), n), { maxBytes: 64 * 1024 }) ?? '') as PendingRequest;
    } catch (err) {
      if (err instanceof InputError) throw err; // planted or widened: refused, not skipped
      /* damaged: not offered */
    }
    if (r && Number.isSafeInteger(r.id) && `${r.id}.json` === n && typeof r.publicKeySha256 === 'string') out.push(r);
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Keep a new request: its key (0600) and its description. Returns the request with its id. */
export function saveRequest(r: Omit<PendingRequest, 'id'>, keyPem: string): PendingRequest {
  const d = ensureStateFolder('requests');
  for (let id = Math.max(0, ...listRequests().map((x) => x.id)) + 1; ; id++) {
    const req: PendingRequest = { id, ...r };
    // The key first (created whole, 0600, never over an existing name), then the description that makes it visible.
    if (!createStateFile(path.join(d, `${id}.key`), keyPem)) continue; // a concurrent csr took this id
    if (createStateFile(path.join(d, `${id}.json`), JSON.stringify(req, null, 2) + '\n')) return req;
    removeQuietly(path.join(d, `${id}.key`));
  }
}

export function discardRequest(id: number): PendingRequest {
  const r = listRequests().find((x) => x.id === id);
  if (!r)
    throw new InputError(`no pending request ${id}`, { hint: 'xsoar-cert csr --list shows the pending requests.' });
  for (const ext of ['key', 'json']) removeQuietly(path.join(dir(), `${id}.${ext}`));
  return r;
}

/** The pending request whose key belongs to `cert`, with the key, or undefined. */
export function pendingKeyFor(cert: X509Certificate): { request: PendingRequest; key: KeyEntry } | undefined {
  const want = spkiSha256(cert.publicKey.export({ format: 'der', type: 'spki' }));
  const request = listRequests().find((r) => r.publicKeySha256 === want);
  if (!request) return undefined;
  const file = path.join(dir(), `${request.id}.key`);
  const pem = readStateFile(file, { secret: true, maxBytes: 64 * 1024 });
  if (pem === undefined)
    throw new InputError(`${file}: the key of pending request ${request.id} is missing`, {
      file,
      hint: `Discard the request (xsoar-cert csr --discard ${request.id}) and make a new one.`,
    });
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new InputError(`${file}: the key of pending request ${request.id} is damaged`, {
      file,
      hint: `Discard the request (xsoar-cert csr --discard ${request.id}) and make a new one.`,
    });
  }
  // Defence in depth: the description could be edited; the key decides.
  if (spkiSha256(createPublicKey(key).export({ format: 'der', type: 'spki' })) !== want) return undefined;
  return { request, key: { key, source: `pending request ${request.id}`, index: 0, format: 'pkcs8' } };
}

/** One line per pending request, for messages ("none" when there is none). */
export function describePending(): string {
  const all = listRequests();
  if (all.length === 0) return 'there are no pending requests (make one with xsoar-cert csr)';
  const each = all.map((r) => `request ${r.id} for ${r.names.join(', ')} (${r.created.slice(0, 10)})`);
  return `pending: ${each.join('; ')}`;
}

/** What to tell the admin when a certificate completes a request: which one, and what differs. */
export function completionNotes(request: PendingRequest, cert: X509Certificate): { using: string; warnings: string[] } {
  const names = request.names.join(', ');
  const using = `using the key of request ${request.id} made ${request.created.slice(0, 10)} for ${names}`;
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^DNS:|^IP Address:/, '').toLowerCase());
  const missing = request.names.filter((n) => !sans.includes(n.toLowerCase().replace(/^\[|\]$/g, '')));
  const warnings: string[] = [];
  if (missing.length)
    warnings.push(
      `the CA left out ${missing.join(', ')}, which request ${request.id} asked for: ` +
        `clients using ${missing.length > 1 ? 'those names' : 'that name'} will fail`,
    );
  const norm = (s: string) =>
    s
      .split(/\n|,\s*/)
      .map((x) => x.trim())
      .filter(Boolean)
      .sort()
      .join(', ');
  if (norm(cert.subject) !== norm(request.subject))
    warnings.push(
      `the CA changed the subject: asked for "${request.subject}", issued "${cert.subject.split('\n').join(', ')}"`,
    );
  return { using, warnings };
}

/** After a successful install or renewal: the key now lives in the secret; remove it here, and say so. */
export function completeRequest(id: number, out: Pick<Reporter, 'ok'>): void {
  try {
    discardRequest(id);
  } catch {
    return; // already gone (another tenant of the same run completed it)
  }
  out.ok(`pending request ${id} completed: its key now lives only in the secret and was removed from this host`);
}

/** What --from-installed asks for: per distinct set of names, the names and the installed key's type. */
export interface InstalledBasis {
  names: string[];
  keyType: 'rsa' | 'ecdsa';
  bits?: number;
  curve?: 'P-256' | 'P-384';
  /** namespace/secret of every target with these names. */
  targets: string[];
}

/** Read each target's installed leaf (tls.crt) and group the targets by the names it covers. */
export async function basisFromInstalled(
  targets: { namespace: string; secret: string }[],
  secretOf: (t: { namespace: string; secret: string }) => Promise<{ data?: Record<string, string> } | undefined>,
): Promise<InstalledBasis[]> {
  const groups = new Map<string, InstalledBasis>();
  for (const t of targets) {
    const s = await secretOf(t);
    const cert = installedLeaf(s);
    if (!cert)
      throw new InputError(
        `secret ${t.namespace}/${t.secret} holds no certificate in tls.crt: nothing to take the names from`,
        { hint: 'Pass the names with --host instead.' },
      );
    const sans = (cert.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((x) => x.replace(/^DNS:|^IP Address:/, ''));
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
    // CN first when it is one of the names (what the installed certificate led with).
    const names = cn && sans.includes(cn) ? [cn, ...sans.filter((n) => n !== cn)] : sans.length ? sans : cn ? [cn] : [];
    if (names.length === 0)
      throw new InputError(`the certificate in ${t.namespace}/${t.secret} names no host`, {
        hint: 'Pass the names with --host instead.',
      });
    const d = cert.publicKey.asymmetricKeyDetails ?? {};
    const ec = cert.publicKey.asymmetricKeyType === 'ec';
    const key = `${[...names].sort().join(',')}|${ec ? d.namedCurve : d.modulusLength}`;
    const hit = groups.get(key);
    if (hit) hit.targets.push(`${t.namespace}/${t.secret}`);
    else {
      groups.set(key, {
        names,
        keyType: ec ? 'ecdsa' : 'rsa',
        bits: ec ? undefined : d.modulusLength,
        curve: ec ? (d.namedCurve === 'secp384r1' ? 'P-384' : 'P-256') : undefined,
        targets: [`${t.namespace}/${t.secret}`],
      });
    }
  }
  return [...groups.values()];
}
