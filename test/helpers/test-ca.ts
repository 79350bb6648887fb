// Mints real chains at test time (STYLE habit 13: committed certificates expire).
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issueCertificate, splitHosts, type CertSpec, type IssuedCert } from '../../src/pki/generate.js';

export type { CertSpec, IssuedCert };

export interface MintOptions {
  keyType?: 'rsa' | 'ecdsa';
  intermediates?: 0 | 1 | 2;
  hosts?: string[];
  /** Overrides for the leaf spec (validity, EKU, key...). */
  leaf?: Partial<CertSpec>;
  /** Overrides for the root spec. */
  root?: Partial<CertSpec>;
  dir?: string;
}

export interface MintedChain {
  dir: string;
  root: IssuedCert;
  intermediates: IssuedCert[];
  leaf: IssuedCert;
  files: {
    root: string;
    rootKey: string;
    intermediates: string[];
    leaf: string;
    key: string;
    /** Intermediates only, leaf-side first. */
    chain: string;
    /** Leaf + intermediates. */
    fullchain: string;
    /** Leaf + intermediates + root. */
    bundle: string;
  };
}

const keyOf = (t: 'rsa' | 'ecdsa') =>
  t === 'ecdsa' ? { type: 'ecdsa' as const, curve: 'P-256' as const } : { type: 'rsa' as const, bits: 2048 };

export async function mintChain(opts: MintOptions = {}): Promise<MintedChain> {
  const keyType = opts.keyType ?? 'ecdsa';
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'xsoar-cert-test-')));
  await mkdir(dir, { recursive: true });
  const root = await issueCertificate({
    subject: 'CN=Test Root CA, O=xsoar-cert tests',
    isCA: true,
    days: 3650,
    key: keyOf(keyType),
    ...opts.root,
  });
  const intermediates: IssuedCert[] = [];
  let signer = root;
  for (let i = 1; i <= (opts.intermediates ?? 1); i++) {
    const int = await issueCertificate({
      subject: `CN=Test Intermediate ${i}, O=xsoar-cert tests`,
      isCA: true,
      days: 1825,
      key: keyOf(keyType),
      issuer: signer,
    });
    intermediates.unshift(int); // leaf-side first
    signer = int;
  }
  const leaf = await issueCertificate({
    subject: hosts[0]!,
    ...splitHosts(hosts),
    days: 90,
    key: keyOf(keyType),
    issuer: signer,
    ...opts.leaf,
  });
  const f = (n: string) => path.join(dir, n);
  const files = {
    root: f('root.pem'),
    rootKey: f('root-key.pem'),
    intermediates: intermediates.map((_, i) => f(`int${i + 1}.pem`)),
    leaf: f('leaf.pem'),
    key: f('leaf-key.pem'),
    chain: f('chain.pem'),
    fullchain: f('fullchain.pem'),
    bundle: f('bundle.pem'),
  };
  await writeFile(files.root, root.certPem);
  await writeFile(files.rootKey, root.keyPem, { mode: 0o600 });
  for (let i = 0; i < intermediates.length; i++) await writeFile(files.intermediates[i]!, intermediates[i]!.certPem);
  await writeFile(files.leaf, leaf.certPem);
  await writeFile(files.key, leaf.keyPem, { mode: 0o600 });
  await chmod(files.key, 0o600);
  const ints = intermediates.map((c) => c.certPem).join('');
  await writeFile(files.chain, ints);
  await writeFile(files.fullchain, leaf.certPem + ints);
  await writeFile(files.bundle, leaf.certPem + ints + root.certPem);
  return { dir, root, intermediates, leaf, files };
}

/** SHA-256 fingerprint as X509Certificate.fingerprint256 (AB:CD:...): of a minted chain's leaf, or of a PEM or DER certificate. */
export const fp = (c: MintedChain | string | Buffer): string =>
  new X509Certificate(typeof c === 'string' || Buffer.isBuffer(c) ? c : c.leaf.certPem).fingerprint256;
