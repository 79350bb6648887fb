// What CAs and tools really hand an admin, made at test time with the openssl binary (no
// committed certificates: they expire). A root and an intermediate, and leaves of any key type
// and lifetime, signed by openssl itself; PKCS#7 in its three deliveries; PKCS#12 with and
// without -legacy; legacy-encrypted PEM keys.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const openssl = (args: string[], input?: string): string =>
  execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

export interface Corpus {
  dir: string;
  f: (name: string) => string;
  root: string;
  rootKey: string;
  int: string;
  intKey: string;
}

const CA_EXT =
  'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n';

export function makeCorpus(): Corpus {
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-corpus-'));
  const f = (name: string) => path.join(dir, name);
  writeFileSync(f('ca.ext'), CA_EXT);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('root.key'),
    '-out',
    f('root.pem'),
    '-subj',
    '/CN=Corpus Root CA/O=xsoar-cert tests',
    '-days',
    '3650',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('int.key'),
    '-out',
    f('int.csr'),
    '-subj',
    '/CN=Corpus Intermediate/O=xsoar-cert tests',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    f('int.csr'),
    '-CA',
    f('root.pem'),
    '-CAkey',
    f('root.key'),
    '-CAcreateserial',
    '-days',
    '1825',
    '-extfile',
    f('ca.ext'),
    '-out',
    f('int.pem'),
  ]);
  return { dir, f, root: f('root.pem'), rootKey: f('root.key'), int: f('int.pem'), intKey: f('int.key') };
}

export type LeafKey = 'ec' | 'rsa' | 'ed25519' | 'ed448' | 'rsa-pss' | 'p521';

/** A leaf for corpus.example and 127.0.0.1, signed by the corpus intermediate; returns [cert, key] paths. */
export function makeLeaf(c: Corpus, name: string, opts: { key?: LeafKey; days?: number } = {}): [string, string] {
  const newkey: Record<LeafKey, string[]> = {
    ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
    rsa: ['-newkey', 'rsa:2048'],
    'rsa-pss': ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'],
    ed25519: ['-newkey', 'ed25519'],
    ed448: ['-newkey', 'ed448'],
  };
  const key = opts.key ?? 'ec';
  const ku = key === 'rsa' ? 'digitalSignature,keyEncipherment' : 'digitalSignature';
  writeFileSync(
    c.f(`${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,${ku}\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:corpus.example,IP:127.0.0.1\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`,
  );
  openssl([
    'req',
    ...newkey[key],
    '-nodes',
    '-keyout',
    c.f(`${name}.key`),
    '-out',
    c.f(`${name}.csr`),
    '-subj',
    '/CN=corpus.example',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    c.f(`${name}.csr`),
    '-CA',
    c.int,
    '-CAkey',
    c.intKey,
    '-CAcreateserial',
    '-days',
    String(opts.days ?? 90),
    '-extfile',
    c.f(`${name}.ext`),
    '-out',
    c.f(`${name}.pem`),
  ]);
  return [c.f(`${name}.pem`), c.f(`${name}.key`)];
}

/** The certificates openssl prints for a PKCS#7 or PKCS#12 (the cross-check), as PEM blocks. */
export function pemBlocks(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]);
}

export const read = (file: string) => readFileSync(file, 'utf8');
