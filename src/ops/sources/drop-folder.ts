// A renew drop folder, filled the way CAs and tools really fill one: a leaf in one file, its
// intermediates in another (chain.pem, ca-bundle.crt, a .p7b), the key in a third, in any
// names; a PKCS#12 holding all three; or certbot's live/NAME/ (cert.pem, chain.pem,
// fullchain.pem, privkey.pem, symlinks into archive/). Files are paired by content: every
// certificate of the folder is one pool for the path builder, every key is tried on every leaf.
// Each file is reported with what it held and what became of it: nothing is dropped silently.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../errors.js';
import { readBundleWithPassphrase } from '../inputs.js';
import { dedupe, keyFitsCert } from '../../pki/path.js';
import { certLabel, certFacts, keyDescription } from '../../pki/describe.js';
import type { Bundle, CertEntry, KeyEntry } from '../../pki/types.js';
import type { Candidate } from '../renew-policy.js';
import { contentFrom } from '../content.js';
import { pendingKeyFor } from '../requests.js';
import type { NewContent } from '../txn/types.js';
import { verifyLoaded } from '../verify-files.js';
import { printable } from '../../printable.js';

/** Files read from one drop folder (with its subfolders one level down): certbot's live/ has one per name. */
export const MAX_FOLDER_FILES = 200;

export interface DropFolderOptions {
  /** Extra intermediates (--chain), read once. */
  chain?: Bundle[];
  /** Trust anchors (--ca); absent = the system store. */
  ca?: Bundle;
  caSource?: string;
  /** Names the new certificate must cover (--host). */
  hosts?: string[];
  passphraseFile?: string;
}

export interface FolderCandidate extends Candidate {
  certFile: string;
  keyFile: string;
  content?: NewContent;
  /** The files whose certificates make up the served chain (leaf file first). */
  chainFiles: string[];
  /** SHA-256 fingerprints of the served chain. */
  chainFingerprints: string[];
  /** The key came from this pending certificate request (xsoar-cert csr), not from the folder. */
  requestId?: number;
}

export interface FolderFile {
  file: string;
  /** What it holds, e.g. "1 leaf certificate and 1 CA certificate", "a private key (ecdsa P-256)". */
  holds: string;
  /** Part of what is installed (set by `describeUse` once the candidate is chosen). */
  used?: boolean;
  /** Used: its role ("the new certificate and its key"); not used: why. */
  why?: string;
}

export interface FolderScan {
  candidates: FolderCandidate[];
  files: FolderFile[];
  /** Files (or leaves) that cannot be used, and why: reported, never silently dropped. */
  ignored: { file: string; why: string }[];
  /** The certificate fingerprints each file holds. */
  fileCerts: Map<string, string[]>;
}

async function listFiles(dir: string): Promise<string[]> {
  const read = async (d: string) => {
    try {
      return (await readdir(d)).sort().filter((n) => !n.startsWith('.'));
    } catch (err) {
      throw new InputError(`${d}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? 'I/O error'})`, {
        file: d,
        hint: 'Point --from at the folder where new certificates are dropped.',
      });
    }
  };
  const out: string[] = [];
  const subdirs: string[] = [];
  for (const n of await read(dir)) {
    const f = path.join(dir, n);
    const st = await stat(f).catch(() => undefined); // follows symlinks (certbot's live/ files)
    if (st?.isFile()) out.push(f);
    else if (st?.isDirectory()) subdirs.push(f);
  }
  for (const d of subdirs) {
    for (const n of await read(d)) {
      const f = path.join(d, n);
      if ((await stat(f).catch(() => undefined))?.isFile()) out.push(f);
    }
  }
  if (out.length > MAX_FOLDER_FILES) {
    throw new InputError(
      `${dir}: holds ${out.length} files, more than a drop folder should (limit ${MAX_FOLDER_FILES})`,
      { file: dir, hint: 'Point --from at the folder (or certbot live/NAME folder) that holds the new certificate.' },
    );
  }
  return out;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

function holdsText(b: Bundle): string {
  const leaves = b.certs.filter((c) => !certFacts(c.cert).basicConstraints?.ca).length;
  const cas = b.certs.length - leaves;
  const parts = [
    ...(leaves ? [plural(leaves, 'leaf certificate')] : []),
    ...(cas ? [plural(cas, 'CA certificate')] : []),
    ...b.keys.map((k) => {
      const d = keyDescription(k.key);
      return `a private key (${d.keyType}${d.curve ? ' ' + d.curve : d.keyBits ? ' ' + d.keyBits : ''})`;
    }),
  ];
  return parts.join(' and ') || 'nothing usable';
}

/** Read the folder once, pair every leaf with its key and a chain from the whole folder, and verify each. */
export async function scanDropFolder(dir: string, opts: DropFolderOptions): Promise<FolderScan> {
  const files: FolderFile[] = [];
  const ignored: FolderScan['ignored'] = [];
  const bundles: { file: string; bundle: Bundle }[] = [];
  for (const f of await listFiles(dir)) {
    try {
      // Never a prompt: renew runs from cron. Encrypted files use --passphrase-file / XSOAR_CERT_PASSPHRASE.
      const bundle = await readBundleWithPassphrase(f, { file: opts.passphraseFile, prompt: false });
      bundles.push({ file: f, bundle });
      files.push({ file: f, holds: holdsText(bundle) });
    } catch (err) {
      const why = (err as Error).message.replace(`${f}: `, '');
      ignored.push({ file: f, why });
      files.push({ file: f, holds: 'nothing readable', used: false, why });
    }
  }
  const pool = dedupe(bundles.flatMap((b) => b.bundle.certs)).unique;
  const keys: KeyEntry[] = bundles.flatMap((b) => b.bundle.keys);
  const leaves = pool.filter((c) => !certFacts(c.cert).basicConstraints?.ca);
  const extraChain = opts.chain ?? [];
  const candidates: FolderCandidate[] = [];
  for (const leaf of leaves) {
    // The key from the folder, else from a pending request this certificate completes.
    const pending = keys.some((k) => keyFitsCert(k, leaf)) ? undefined : pendingKeyFor(leaf.cert);
    const key = keys.find((k) => keyFitsCert(k, leaf)) ?? pending?.key;
    if (!key) {
      ignored.push({
        file: leaf.source,
        why: `no key in the folder (nor a pending request) matches this certificate (${certLabel(leaf.cert)})`,
      });
      continue;
    }
    const others: Bundle = { certs: pool.filter((c) => c !== leaf), keys: [] };
    const { report, material, served } = await verifyLoaded(
      {
        cert: { certs: [leaf], keys: [] },
        key: { certs: [], keys: [key] },
        chain: [others, ...extraChain],
        ca: opts.ca,
        caSource: opts.caSource,
      },
      { hosts: opts.hosts, tls: true },
    );
    candidates.push({
      source: leaf.source,
      certFile: leaf.source,
      keyFile: key.source,
      notBefore: new Date(leaf.cert.validFrom),
      notAfter: new Date(leaf.cert.validTo),
      sha256: leaf.cert.fingerprint256,
      verified: report.ok && Boolean(material),
      problem: report.checks.find((c) => c.status === 'fail')?.message,
      content: material ? contentFrom(material, leaf.source) : undefined,
      chainFiles: [...new Set((served ?? [leaf]).map((c: CertEntry) => c.source))],
      chainFingerprints: (served ?? [leaf]).map((c: CertEntry) => c.cert.fingerprint256),
      ...(pending ? { requestId: pending.request.id } : {}),
    });
  }
  const fileCerts = new Map(bundles.map((b) => [b.file, b.bundle.certs.map((c) => c.cert.fingerprint256)]));
  return { candidates, files, ignored, fileCerts };
}

/**
 * The line renew prints for one file. File names are whatever landed in the folder (a name can
 * hold ESC or BEL: an OSC title or a screen clear), and `why` quotes them: both shown escaped.
 */
export function fileLine(f: FolderFile): string {
  const file = printable(f.file);
  const why = printable(f.why ?? '');
  return f.used ? `${file}: ${f.holds}: ${why}` : `skipped ${file}: ${why} (it holds ${f.holds})`;
}

/** Say what became of each file, once `chosen` (if any) is known; `notPicked` has the policy's reasons. */
export function describeUse(
  scan: FolderScan,
  chosen: FolderCandidate | undefined,
  notPicked: ReadonlyMap<string, string> = new Map(),
): FolderFile[] {
  return scan.files.map((f) => {
    if (f.used === false) return f;
    const roles: string[] = [];
    if (chosen?.certFile === f.file) roles.push('the new certificate');
    else if (chosen?.chainFiles.includes(f.file)) roles.push('its intermediate(s)');
    if (chosen?.keyFile === f.file) roles.push('its key');
    if (chosen?.requestId !== undefined && chosen.certFile === f.file)
      roles.push(`completing pending request ${chosen.requestId} (its key)`);
    if (roles.length) return { ...f, used: true, why: roles.join(' and ') };
    // certbot's fullchain.pem next to cert.pem + chain.pem: the same certificates again.
    const fps = scan.fileCerts.get(f.file) ?? [];
    if (chosen && fps.length && fps.every((fp) => chosen.chainFingerprints.includes(fp)))
      return { ...f, used: true, why: 'the same certificates as the files used' };
    const cand = scan.candidates.find((c) => c.certFile === f.file);
    const why =
      notPicked.get(f.file) ??
      scan.ignored.find((i) => i.file === f.file)?.why ??
      (cand && !cand.verified
        ? `fails verify: ${cand.problem ?? 'see xsoar-cert verify'}`
        : chosen
          ? 'not needed for the chosen certificate'
          : 'no usable certificate was found');
    return { ...f, used: false, why };
  });
}
