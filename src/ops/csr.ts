// `csr` as an operation: a key born on this host and a PKCS#10 request for it. planCsr decides
// the names and the key (from --host, or from the certificate installed in each tenant) and refuses
// what a CA would refuse before a key is made; makeRequests makes each key, writes the CSR and
// keeps the key as a pending request (or writes it to --key-out, 0600).
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { KubectlError, UsageError } from '../errors.js';
import type { Reporter } from './reporter.js';
import type { SettingFlags } from './settings.js';
import type { TargetFlags } from './fleet.js';
import { discardRequest, saveRequest, spkiSha256, type InstalledBasis, type PendingRequest } from './requests.js';
import { writeNew } from './write-files.js';

export interface CsrOptions {
  hosts: string[];
  subject?: string;
  keyType?: string;
  bits?: string;
  curve?: string;
  /** Where to write the CSR (default: <first host>.csr in the current folder). */
  out?: string;
  /** Write the key here (0600) instead of keeping it as a pending request. */
  keyOut?: string;
  force?: boolean;
  fromInstalled?: boolean;
  where: SettingFlags & TargetFlags;
}

type KeySpec = { type: 'rsa'; bits: number } | { type: 'ecdsa'; curve: 'P-256' | 'P-384' };

export interface PlannedRequest {
  names: string[];
  key: KeySpec;
  /** namespace/secret of the tenants it is for (--from-installed). */
  targets?: string[];
}

/** One request made; what --json prints (never the key). */
export interface MadeRequest {
  id: number | null;
  names: string[];
  key: string;
  csrFile: string;
  publicKeySha256: string;
  keyFile: string | null;
  for: string[] | null;
  csrPem: string;
}

/** `csr --discard ID`: the request and its key are deleted. */
export function discardPending(idText: string): PendingRequest {
  const id = Number(idText);
  if (!Number.isInteger(id) || id <= 0)
    throw new UsageError(`--discard takes a request id (see csr --list), not "${idText}"`);
  return discardRequest(id);
}

/** The requests to make; every check is done before a key is. */
export async function planCsr(o: CsrOptions, out: Reporter): Promise<PlannedRequest[]> {
  const { requestName } = await import('../pki/hostname.js');
  const plans: PlannedRequest[] = [];
  if (o.fromInstalled) {
    if (o.hosts.length) throw new UsageError('use either --host or --from-installed, not both');
    for (const b of await installedBases(o))
      plans.push({ names: b.names, key: keySpec(o, b, out), targets: b.targets });
  } else {
    plans.push({ names: checkNames(o.hosts), key: keySpec(o, undefined, out) });
  }
  if (plans.length > 1 && o.out)
    throw new UsageError(
      `--out names one file, but the targets need ${plans.length} requests (their names differ)`,
      'Leave out --out: each request is written as <first host>.csr.',
    );
  if (plans.length > 1 && o.keyOut)
    throw new UsageError('--key-out names one file, but the targets need several requests');
  // Names a CA will refuse stop everything before a key is made.
  for (const p of plans) {
    p.names = p.names.map((n) => {
      const r = requestName(n);
      if ('problem' in r) throw new UsageError(r.problem);
      if (r.note) out.info(r.note);
      return r.name;
    });
  }
  return plans;
}

/** The names and key type of the certificate installed in each tenant, one entry per distinct set. */
async function installedBases(o: CsrOptions): Promise<InstalledBasis[]> {
  const { resolveSettings } = await import('./settings.js');
  const { resolveTargets } = await import('./fleet.js');
  const { Kubectl } = await import('../k8s/kubectl.js');
  const { retrying } = await import('./retry.js');
  const { basisFromInstalled } = await import('./requests.js');
  const settings = resolveSettings(o.where);
  const kubectl = new Kubectl({
    namespace: settings.namespace,
    context: settings.context,
    kubeconfig: settings.kubeconfig,
  });
  const { namespace, allNamespaces, selector, tenantsFile } = o.where;
  const targets = await resolveTargets(
    { namespace, allNamespaces, selector, tenantsFile },
    { namespace: settings.namespace, secret: settings.secret },
    kubectl,
  );
  return basisFromInstalled(targets, async (t) => {
    const r = await retrying(() => kubectl.forNamespace(t.namespace).getSecret(t.secret));
    if (r.found) return r.object;
    throw new KubectlError(`secret "${t.secret}" not found in namespace "${t.namespace}"`, {
      verb: 'get',
      args: [],
      reason: 'NotFound',
      hint: 'Check --namespace and --secret.',
    });
  });
}

/** Make each key and its CSR, write the CSR and keep the key; yields each as it is made. */
export async function* makeRequests(
  o: CsrOptions,
  plans: PlannedRequest[],
  out: Reporter,
): AsyncGenerator<MadeRequest> {
  const { generateCsr } = await import('../pki/generate.js');
  for (const p of plans) {
    const label = p.key.type === 'rsa' ? `rsa ${p.key.bits}` : `ecdsa ${p.key.curve}`;
    const { csrPem, keyPem } = await out.wait(
      `making a ${label} key`,
      generateCsr({ hosts: p.names, subject: o.subject, key: p.key }),
    );
    const csrFile = path.resolve(
      o.out ?? `${p.names[0]!.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9._-]/g, '_')}.csr`,
    );
    await writeNew(csrFile, csrPem, { mode: 0o644, force: o.force });
    const spki = createPublicKey(keyPem).export({ format: 'der', type: 'spki' });
    const base = { names: p.names, key: label, csrFile, publicKeySha256: spkiSha256(spki) };
    let id: number | undefined;
    if (o.keyOut) {
      await writeNew(path.resolve(o.keyOut), keyPem, { mode: 0o600, force: o.force });
    } else {
      const subject = `CN=${p.names[0]}${o.subject ? `, ${o.subject}` : ''}`;
      const pending = { created: new Date().toISOString(), subject, ...base, ...(p.targets ? { for: p.targets } : {}) };
      id = saveRequest(pending, keyPem).id;
    }
    const keyFile = o.keyOut ? path.resolve(o.keyOut) : null;
    yield { id: id ?? null, ...base, keyFile, for: p.targets ?? null, csrPem };
  }
}

function keySpec(
  o: CsrOptions,
  basis: { keyType: 'rsa' | 'ecdsa'; bits?: number; curve?: 'P-256' | 'P-384' } | undefined,
  out: Reporter,
): KeySpec {
  const type = o.keyType ?? basis?.keyType ?? 'rsa';
  if (type !== 'rsa' && type !== 'ecdsa') throw new UsageError(`--key-type must be rsa or ecdsa, not "${type}"`);
  if (type === 'ecdsa') {
    const curve = o.curve ?? basis?.curve ?? 'P-256';
    if (curve !== 'P-256' && curve !== 'P-384') throw new UsageError(`--curve must be P-256 or P-384, not "${curve}"`);
    return { type, curve };
  }
  const bits =
    o.bits !== undefined ? Number(o.bits) : Math.max(basis?.keyType === 'rsa' ? (basis.bits ?? 3072) : 3072, 2048);
  if (![2048, 3072, 4096].includes(bits)) throw new UsageError(`--bits must be 2048, 3072 or 4096, not "${o.bits}"`);
  if (o.bits !== undefined && basis?.keyType === 'rsa' && basis.bits && bits < basis.bits) {
    // NIST SP 800-57 Part 1 Rev. 5, table 4: 112-bit strength (RSA 2048) is acceptable only through 2030.
    const weak =
      bits < 3072 ? ': RSA under 3072 bits is below the strength recommended past 2030 (NIST SP 800-57)' : '';
    out.warn(`--bits ${bits} is smaller than the installed key (${basis.bits} bits)${weak}`);
  }
  return { type, bits };
}

function checkNames(hosts: string[]): string[] {
  if (hosts.length === 0)
    throw new UsageError(
      'csr needs --host NAME (repeatable), or --from-installed',
      'Example: xsoar-cert csr --host xsoar.example.com --host 10.0.0.5',
    );
  return hosts;
}
