// `generate` as an operation: a development key and certificate, self-signed or signed by a dev
// CA kept beside them (mkcert's model: https://github.com/FiloSottile/mkcert). planGenerate checks
// the flags and refuses before the slow key generation; executeGenerate writes key first, then
// certificate, so no certificate exists without its key.
import { chmod, lstat, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import { UsageError, InputError } from '../errors.js';
import { generateDevCA, generateDevLeaf } from '../pki/generate.js';
import { describeCert } from '../pki/describe.js';
import { parseBundle } from '../pki/parse.js';
import type { Reporter } from './reporter.js';
import { writeNew } from './write-files.js';

export interface GenerateOptions {
  hosts: string[];
  keyType: string;
  bits: string;
  curve: string;
  days?: string;
  outDir: string;
  /** Sign with the dev CA in outDir, creating it when absent. */
  ca?: boolean;
  force?: boolean;
}

export interface GeneratePlan {
  o: GenerateOptions;
  key: { keyType: 'rsa' | 'ecdsa'; bits: number; curve: 'P-256' | 'P-384' };
  days?: number;
  certFile: string;
  keyFile: string;
}

export interface Generated {
  files: { file: string; kind: string; mode: string }[];
  certificate: ReturnType<typeof describeCert>;
  /** The dev CA's certificate file (--ca), else undefined. */
  caFile?: string;
  selfSigned: boolean;
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

/** Check the flags and the folder, and refuse existing files (without --force) before any key is made. */
export async function planGenerate(o: GenerateOptions): Promise<GeneratePlan> {
  if (o.hosts.length === 0)
    throw new UsageError(
      'generate needs at least one --host NAME|IP',
      'Example: xsoar-cert generate --host xsoar.example.com --host 10.0.0.5',
    );
  for (const h of o.hosts) {
    const bare = h.replace(/^\[|\]$/g, '');
    if (!isIP(bare) && !DNS_NAME.test(bare))
      throw new UsageError(`--host "${h}" is neither a DNS name nor an IP address`);
  }
  const key = keySpec(o);
  let days: number | undefined;
  if (o.days !== undefined) {
    days = Number(o.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new UsageError(`--days must be a whole number from 1 to 3650, not "${o.days}"`);
  }
  await keyFolder(o.outDir);
  // mkcert's naming: the first host, plus "+N" for the others.
  const base =
    o.hosts[0]!.replace(/^\*/, '_wildcard').replace(/[^A-Za-z0-9._-]/g, '_') +
    (o.hosts.length > 1 ? `+${o.hosts.length - 1}` : '');
  const certFile = path.join(o.outDir, `${base}.pem`);
  const keyFile = path.join(o.outDir, `${base}-key.pem`);
  // Refuse before the (slow) key generation and before writing anything, so a refused run
  // leaves no half-written set behind (O_EXCL in writeNew still guards against races).
  if (!o.force) await refuseExisting([keyFile, certFile]); // the key first: it is the one that matters
  return { o, key, days, certFile, keyFile };
}

function keySpec(o: GenerateOptions): GeneratePlan['key'] {
  const keyType = o.keyType.toLowerCase();
  if (keyType !== 'rsa' && keyType !== 'ecdsa')
    throw new UsageError(`--key-type must be rsa or ecdsa, not "${o.keyType}"`);
  const bits = Number(o.bits);
  if (![2048, 3072, 4096].includes(bits)) throw new UsageError(`--bits must be 2048, 3072 or 4096, not "${o.bits}"`);
  const curve = o.curve.toUpperCase();
  if (curve !== 'P-256' && curve !== 'P-384') throw new UsageError(`--curve must be P-256 or P-384, not "${o.curve}"`);
  return { keyType, bits, curve };
}

/** Make the keys and write the files (the dev CA's first, when one is made). */
export async function executeGenerate(p: GeneratePlan, out: Reporter): Promise<Generated> {
  const { o, certFile, keyFile } = p;
  const files: Generated['files'] = [];
  const ca = o.ca ? await devCA(p, out, files) : undefined;
  const issuer = ca?.issuer;
  const leaf = await out.wait(
    'generating the key',
    generateDevLeaf({ ...p.key, hosts: o.hosts, days: p.days, issuer }),
  );
  // Key first: if the certificate cannot be written, no certificate exists without its key,
  // and the key just written is removed again.
  await writeNew(keyFile, leaf.keyPem, { mode: 0o600, force: o.force });
  try {
    await writeNew(certFile, leaf.certPem, { mode: 0o644, force: o.force });
  } catch (err) {
    if (!o.force) await unlink(keyFile).catch(() => undefined);
    throw err;
  }
  files.push(
    { file: certFile, kind: 'certificate', mode: '0644' },
    { file: keyFile, kind: 'private key', mode: '0600' },
  );
  const certificate = describeCert(parseBundle(Buffer.from(leaf.certPem), { source: certFile }).certs[0]!);
  return { files, certificate, caFile: ca?.caFile, selfSigned: !issuer };
}

/** The dev CA in --out-dir: reused when present, made (key 0600) when not. */
async function devCA(
  p: GeneratePlan,
  out: Reporter,
  files: Generated['files'],
): Promise<{ issuer: { certPem: string; keyPem: string }; caFile: string }> {
  const caFile = path.join(p.o.outDir, 'rootCA.pem');
  const caKeyFile = path.join(p.o.outDir, 'rootCA-key.pem');
  const found = await loadCA(caFile, caKeyFile);
  if (found) {
    out.info(`Using the development CA in ${caFile}`);
    return { issuer: found, caFile };
  }
  const issuer = await out.wait('generating the CA key', generateDevCA(p.key));
  await writeNew(caKeyFile, issuer.keyPem, { mode: 0o600, force: false });
  await writeNew(caFile, issuer.certPem, { mode: 0o644, force: false });
  files.push(
    { file: caFile, kind: 'dev CA certificate', mode: '0644' },
    { file: caKeyFile, kind: 'dev CA key', mode: '0600' },
  );
  return { issuer, caFile };
}

/**
 * The folder that holds (or will hold) private keys and the dev CA pair that the next
 * `generate --ca` reuses: created 0700 when it is new (chmod too, whatever the umask made of it;
 * an existing folder's mode is never changed), and refused when another user could replace its
 * files: owned by someone else, or writable by group or others (no sticky-bit exception: in a
 * sticky folder others still create names we have not created yet, e.g. rootCA-key.pem).
 */
export async function keyFolder(dir: string): Promise<void> {
  const existed = await lstat(dir).then(
    () => true,
    () => false,
  );
  if (!existed) {
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'I/O error';
      throw new InputError(`${dir}: cannot create the folder (${code})`, {
        file: dir,
        hint: 'Choose a folder you can write to with --out-dir.',
      });
    }
    if (created !== undefined) await chmod(dir, 0o700);
  }
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new InputError(`${dir}: not a folder`, { file: dir, hint: 'Pass a folder with --out-dir.' });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new InputError(
      `${dir}: belongs to another user (uid ${st.uid}), who could replace the private keys written there`,
      {
        file: dir,
        hint: 'Use a folder of your own with --out-dir (generate creates it, mode 0700).',
      },
    );
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    const why =
      `group or others may write to it (mode ${mode}), ` +
      'so another user could replace the private keys written there';
    throw new InputError(`${dir}: ${why}`, { file: dir, hint: `Run "chmod go-w ${dir}", or use another --out-dir.` });
  }
}

async function refuseExisting(files: string[]): Promise<void> {
  for (const file of files) {
    const exists = await lstat(file).then(
      () => true,
      () => false,
    );
    if (exists)
      throw new UsageError(
        `${file} already exists: not overwriting it`,
        'Pass --force to replace it, or choose another --out-dir.',
      );
  }
}

async function loadCA(caFile: string, caKeyFile: string): Promise<{ certPem: string; keyPem: string } | undefined> {
  let certPem: string;
  try {
    certPem = await readFile(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined; // no dev CA here yet: one is made
    throw new InputError(`${caFile}: cannot read the dev CA (${code ?? 'I/O error'})`, {
      file: caFile,
      hint: 'Fix its permissions, or use another --out-dir.',
    });
  }
  let keyPem: string;
  try {
    keyPem = await readFile(caKeyFile, 'utf8');
  } catch {
    throw new InputError(`${caKeyFile}: missing, but ${caFile} exists: cannot sign without the CA key`, {
      file: caKeyFile,
      hint: 'Restore the key, or move rootCA.pem away to create a new dev CA.',
    });
  }
  const b = parseBundle(Buffer.from(certPem), { source: caFile });
  const k = parseBundle(Buffer.from(keyPem), { source: caKeyFile });
  const { keyMatchesCert } = await import('../pki/describe.js');
  if (!b.certs[0] || !k.keys[0] || !keyMatchesCert(k.keys[0].key, b.certs[0].cert)) {
    throw new InputError(`${caKeyFile}: does not match ${caFile}`, {
      file: caKeyFile,
      hint: 'Restore the matching pair, or move both away to create a new dev CA.',
    });
  }
  return { certPem, keyPem: k.keys[0].key.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
