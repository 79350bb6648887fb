// Files → a full verify report (+ the material install needs when everything passed).
import type { Bundle, CertEntry, Check, KeyEntry, VerifiedMaterial, VerifyReport } from '../pki/types.js';
import { readBundleWithPassphrase } from './inputs.js';
import { mergeBundles } from '../pki/parse.js';
import { finishReport, verifyBundle, type VerifyResult } from '../pki/verify.js';
import { acceptChecks } from '../pki/accept.js';
import { toPem } from '../pki/chain.js';
import { certLabel, oneLineName } from '../pki/describe.js';
import { InputError } from '../errors.js';
import { completionNotes, pendingKeyFor, type PendingRequest } from './requests.js';

// The pure path validation over parsed certificates (no I/O, no handshake), for callers that
// hold certificates already: install re-checks what it reads back from the Kubernetes secret.
export { verifyBundle } from '../pki/verify.js';
export type { VerifyInput, VerifyResult } from '../pki/verify.js';

export interface VerifyFilesOptions {
  cert: string;
  key?: string;
  chain?: string[];
  ca?: string;
  hosts?: string[];
  at?: Date;
  passphraseFile?: string;
  /** Run the loopback TLS handshakes (default true). */
  tls?: boolean;
  /** Policy lints the admin accepts (pki/accept.ts): reported as accepted warnings, not failures. */
  accept?: string[];
}

export interface VerifyFilesResult {
  /** Set when no --key was given and a pending certificate request's key completed the pair. */
  request?: { id: number; using: string; warnings: string[] };
  report: VerifyReport;
  material?: VerifiedMaterial;
  /** Leaf + intermediates as they would be served (with their source files). */
  served?: CertEntry[];
}

async function load(file: string, passphraseFile?: string): Promise<Bundle> {
  return readBundleWithPassphrase(file, { file: passphraseFile });
}

export async function verifyFiles(opts: VerifyFilesOptions): Promise<VerifyFilesResult> {
  const [certB, keyB, caB, ...chainBs] = await Promise.all([
    load(opts.cert, opts.passphraseFile),
    opts.key ? load(opts.key, opts.passphraseFile) : Promise.resolve<Bundle>({ certs: [], keys: [] }),
    opts.ca ? load(opts.ca, opts.passphraseFile) : Promise.resolve<Bundle>({ certs: [], keys: [] }),
    ...(opts.chain ?? []).map((f) => load(f, opts.passphraseFile)),
  ]);
  if (certB.certs.length === 0)
    throw new InputError(
      `${opts.cert}: holds no certificate (only a key?): pass the certificate with --cert and the key with --key`,
      { file: opts.cert },
    );
  if (opts.key && keyB.keys.length === 0)
    throw new InputError(`${opts.key}: holds no private key: pass the key file with --key`, { file: opts.key });
  if (opts.ca && caB.certs.length === 0)
    throw new InputError(`${opts.ca}: holds no certificate: pass the root CA certificate with --ca`, { file: opts.ca });
  // No key given and none in the file: the certificate may complete a pending request (xsoar-cert csr).
  const pending = !opts.key && certB.keys.length === 0 ? pendingFor(certB) : undefined;
  const result = await verifyLoaded(
    {
      cert: certB,
      key: opts.key ? keyB : pending ? { certs: [], keys: [pending.key] } : undefined,
      chain: chainBs,
      ca: opts.ca ? caB : undefined,
      caSource: opts.ca,
    },
    { hosts: opts.hosts, at: opts.at, tls: opts.tls, accept: opts.accept },
  );
  if (!pending) return result;
  const notes = completionNotes(pending.request, pending.cert.cert);
  const extra: Check[] = [
    { id: 'request', status: 'info', message: `${opts.cert}: ${notes.using}`, file: opts.cert },
    ...notes.warnings.map((w) => ({
      id: 'request.names',
      status: 'warn' as const,
      message: `${opts.cert}: ${w}`,
      file: opts.cert,
    })),
  ];
  const report = {
    ...result.report,
    checks: [...extra, ...result.report.checks],
    warnings: result.report.warnings + notes.warnings.length,
  };
  return {
    ...result,
    report,
    material: result.material ? { ...result.material, report } : undefined,
    request: { id: pending.request.id, ...notes },
  };
}

/** The pending request whose key fits one of the (non-CA) certificates of --cert. */
function pendingFor(b: Bundle): { request: PendingRequest; key: KeyEntry; cert: CertEntry } | undefined {
  for (const cert of b.certs) {
    const hit = pendingKeyFor(cert.cert);
    if (hit) return { ...hit, cert };
  }
  return undefined;
}

export interface LoadedInputs {
  /** What --cert held (a PKCS#12 brings its key and chain along). */
  cert: Bundle;
  key?: Bundle;
  chain?: Bundle[];
  /** Trust anchors; absent = the system trust store. */
  ca?: Bundle;
  /** How to name the anchors in messages (a file name, or "secret ns/name ca.crt"). */
  caSource?: string;
}

/** verifyFiles for inputs already parsed (e.g. read from a Kubernetes secret): same report, same material. */
export async function verifyLoaded(
  inputs: LoadedInputs,
  opts: { hosts?: string[]; at?: Date; tls?: boolean; accept?: string[] } = {},
): Promise<VerifyFilesResult> {
  const certB = inputs.cert;
  // A PKCS#12 given as --cert carries its key (and often its chain) too.
  const keys = inputs.key?.keys.length ? inputs.key.keys : certB.keys;
  const chain = mergeBundles(inputs.chain ?? []).certs;
  const trust = await trustAnchors(inputs);
  const at = opts.at ?? new Date();
  let result: VerifyResult = verifyBundle({ certs: certB.certs, chain, keys, hosts: opts.hosts ?? [], at, ...trust });
  if (opts.accept?.length) result = finishReport({ ...result, checks: acceptChecks(result.checks, opts.accept) }, []);
  const servedPem = toPem(result.served);
  // PKCS#8 PEM for the secret's tls.key; it stays in memory and never reaches a message.
  const keyPem = result.keyEntry?.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const rootPem = result.anchor ? toPem([result.anchor]) : undefined;
  const skipped = tlsSkipped(opts, keyPem, keys.length > 0);
  if (skipped !== undefined) result = finishReport(result, skipTls(skipped));
  else {
    // Trust only the anchor the chain was validated against (or, with no path, the given CA).
    const caPem = rootPem ?? (inputs.ca ? toPem(trust.anchors) : undefined);
    // tlsSkipped answers a reason whenever there is no key.
    result = finishReport(result, await handshakes(result, opts.hosts, keyPem!, servedPem, caPem));
  }
  const report: VerifyReport = {
    ok: result.ok,
    checks: result.checks,
    leaf: result.leaf,
    chain: result.chain,
    failures: result.failures,
    warnings: result.warnings,
  };
  if (!report.ok || !keyPem || !report.leaf) return { report, served: result.served };
  return {
    report,
    served: result.served,
    material: { report, chainPem: servedPem, rootPem, keyPem, leaf: report.leaf },
  };
}

/** The anchors to validate against (--ca, else the system store), how to name them, and which are public roots. */
async function trustAnchors(
  inputs: LoadedInputs,
): Promise<{ anchors: CertEntry[]; anchorSource: string; isPublicRoot: (a: CertEntry) => boolean }> {
  const { systemAnchors } = await import('../pki/trust-store.js');
  if (!inputs.ca) return { anchors: systemAnchors(), anchorSource: 'the system trust store', isPublicRoot: () => true };
  // A root from --ca may still be a public one (the 398-day rule then applies): ask the store lazily.
  let publicStore: CertEntry[] | undefined;
  return {
    anchors: inputs.ca.certs,
    anchorSource: inputs.caSource ?? 'the given CA',
    isPublicRoot: (a) => (publicStore ??= systemAnchors()).some((s) => s.der.equals(a.der)),
  };
}

/** Why the live handshakes are skipped, or undefined when they run. */
function tlsSkipped(opts: { at?: Date; tls?: boolean }, keyPem: string | undefined, hasKey: boolean) {
  if (opts.tls === false) return '--no-tls';
  if (opts.at) return '--at is set, and a live handshake checks the certificates at the current time';
  if (!keyPem) return hasKey ? 'the key does not match the certificate' : 'it needs the matching --key';
  return undefined;
}

/** Both versions are always reported, so the JSON shape does not depend on the flags. */
function skipTls(why: string) {
  return (['1.2', '1.3'] as const).map((v) => ({
    id: `tls.${v}`,
    status: 'skip' as const,
    message: `TLS ${v} handshake skipped: ${why}`,
  }));
}

/** TLS 1.2 and 1.3 handshakes with the served chain and key, for the first host (or the leaf's first name). */
async function handshakes(
  result: VerifyResult,
  hosts: string[] | undefined,
  keyPem: string,
  chainPem: string,
  caPem: string | undefined,
) {
  const host = hosts?.[0] ?? result.leaf?.dnsNames[0] ?? result.leaf?.ipAddresses[0] ?? 'localhost';
  const { handshakeChecks } = await import('../pki/tls-handshake.js');
  const leaf = result.leafEntry;
  const about = leaf
    ? { file: leaf.source, subject: oneLineName(leaf.cert.subject), serial: leaf.cert.serialNumber.toUpperCase() }
    : undefined;
  const label = leaf ? `${leaf.source}: ${certLabel(leaf.cert)}` : undefined;
  return handshakeChecks({ keyPem, chainPem, caPem, host, label, about });
}
