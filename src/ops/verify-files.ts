// Files → a full verify report (+ the material install needs when everything passed).
import type { Bundle, CertEntry, VerifiedMaterial, VerifyReport } from '../pki/types.js';
import { readBundleWithPassphrase } from '../cli/passphrase.js';
import { mergeBundles } from '../pki/parse.js';
import { finishReport, verifyBundle, type VerifyResult } from '../pki/verify.js';
import { toPem } from '../pki/chain.js';
import { InputError } from '../errors.js';

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
}

export interface VerifyFilesResult {
  report: VerifyReport;
  material?: VerifiedMaterial;
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
  if (certB.certs.length === 0) throw new InputError(`${opts.cert}: holds no certificate (only a key?): pass the certificate with --cert and the key with --key`, { file: opts.cert });
  if (opts.key && keyB.keys.length === 0) throw new InputError(`${opts.key}: holds no private key: pass the key file with --key`, { file: opts.key });
  if (opts.ca && caB.certs.length === 0) throw new InputError(`${opts.ca}: holds no certificate: pass the root CA certificate with --ca`, { file: opts.ca });
  // A PKCS#12 given as --cert carries its key (and often its chain) too.
  const keys = keyB.keys.length ? keyB.keys : certB.keys;
  const chain = mergeBundles(chainBs).certs;
  let anchors: CertEntry[];
  let anchorSource: string;
  if (opts.ca) {
    anchors = caB.certs;
    anchorSource = opts.ca;
  } else {
    const { systemAnchors } = await import('../pki/trust-store.js');
    anchors = systemAnchors();
    anchorSource = 'the system trust store';
  }
  const at = opts.at ?? new Date();
  let result: VerifyResult = verifyBundle({ certs: certB.certs, chain, anchors, anchorSource, keys, hosts: opts.hosts ?? [], at });
  const servedPem = toPem(result.served);
  const keyPem = result.keyEntry?.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const rootPem = result.anchor ? toPem([result.anchor]) : undefined;

  if (opts.tls === false) {
    result = finishReport(result, [{ id: 'tls', status: 'skip', message: 'TLS handshakes skipped (--no-tls)' }]);
  } else if (opts.at) {
    result = finishReport(result, [{ id: 'tls', status: 'skip', message: 'TLS handshakes skipped: --at is set and a handshake checks at the current time' }]);
  } else if (!keyPem) {
    result = finishReport(result, [{ id: 'tls', status: 'skip', message: 'TLS handshakes skipped: they need the matching --key' }]);
  } else {
    const host = opts.hosts?.[0] ?? result.leaf?.dnsNames[0] ?? result.leaf?.ipAddresses[0] ?? 'localhost';
    const { handshakeChecks } = await import('../pki/tls-handshake.js');
    // Trust only the anchor the chain was validated against (or, with no path, the given --ca).
    const caPem = rootPem ?? (opts.ca ? toPem(anchors) : undefined);
    result = finishReport(result, await handshakeChecks({ keyPem, chainPem: servedPem, caPem, host }));
  }
  const report: VerifyReport = { ok: result.ok, checks: result.checks, leaf: result.leaf, chain: result.chain, failures: result.failures, warnings: result.warnings };
  if (!report.ok || !keyPem || !report.leaf) return { report };
  return { report, material: { report, chainPem: servedPem, rootPem, keyPem, leaf: report.leaf } };
}
