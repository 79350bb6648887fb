// Reads certificates and private keys from any input, detected by content, never by
// file extension: PEM (any text around blocks, CRLF, BOM), DER, PKCS#12/PFX; keys as
// PKCS#8 (plain or encrypted), PKCS#1, SEC1. Node's X509Certificate and KeyObject do the
// parsing; node-forge only unwraps PKCS#12, whose bags are handed back to Node.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { InputError } from '../errors.js';
import type { Bundle, CertEntry, KeyEntry } from './types.js';

/** The input is encrypted and no passphrase was given. */
export class NeedsPassphraseError extends InputError {
  constructor(source: string, what = 'the private key is encrypted') {
    super(`${source}: ${what} and no passphrase was given`, {
      file: source,
      hint: 'Pass --passphrase-file FILE or set XSOAR_CERT_PASSPHRASE (never on the command line).',
    });
  }
}

export class WrongPassphraseError extends InputError {
  constructor(source: string, what = 'the key') {
    super(`${source}: wrong passphrase (${what} could not be decrypted, or it is damaged)`, {
      file: source,
      hint: 'Check the passphrase in --passphrase-file / XSOAR_CERT_PASSPHRASE.',
    });
  }
}

export interface ParseOptions {
  /** File name for messages. */
  source: string;
  passphrase?: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n?([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

const WRONG_TYPE_HINTS: Record<string, string> = {
  'CERTIFICATE REQUEST': 'a certificate signing request (CSR), not a certificate: send it to your CA and use the certificate it returns',
  'NEW CERTIFICATE REQUEST': 'a certificate signing request (CSR), not a certificate: send it to your CA and use the certificate it returns',
  'PUBLIC KEY': 'only a public key: the private key file is needed',
  'RSA PUBLIC KEY': 'only a public key: the private key file is needed',
  PKCS7: 'a PKCS#7 bundle: convert it with "openssl pkcs7 -print_certs -in FILE -out chain.pem"',
  'X509 CRL': 'a certificate revocation list, not a certificate',
  'DH PARAMETERS': 'Diffie-Hellman parameters, not a certificate or key',
};

/** Parse one input. Throws an InputError subclass naming `source` on anything it cannot use. */
export function parseBundle(data: Buffer, opts: ParseOptions): Bundle {
  const { source } = opts;
  if (data.length === 0) throw new InputError(`${source}: the file is empty`, { file: source, hint: 'Check the path; expected a PEM, DER or PKCS#12 certificate or key.' });
  let text = data.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? data.subarray(3).toString('latin1') : data.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    text = text.replace(/\r\n?/g, '\n');
    return parsePem(text, opts);
  }
  return parseBinary(data, opts);
}

function parsePem(text: string, opts: ParseOptions): Bundle {
  const { source } = opts;
  const bundle: Bundle = { certs: [], keys: [] };
  const skipped: string[] = [];
  let consumed = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [whole, type, body, endType] = m as unknown as [string, string, string, string];
    if (type !== endType) throw new InputError(`${source}: PEM block "BEGIN ${type}" ends with "END ${endType}": the file is damaged or truncated`, { file: source, hint: 'Get a fresh copy of the file.' });
    consumed = (m.index ?? 0) + whole.length;
    const headers = /^[A-Za-z-]+:/m.test(body);
    const der = Buffer.from(body.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    const pem = `-----BEGIN ${type}-----\n${body.trim()}\n-----END ${type}-----\n`;
    switch (type) {
      case 'CERTIFICATE':
      case 'X509 CERTIFICATE':
      case 'TRUSTED CERTIFICATE':
        bundle.certs.push(certFrom(der, source, bundle.certs.length, type === 'TRUSTED CERTIFICATE'));
        break;
      case 'PRIVATE KEY':
        bundle.keys.push(keyFrom(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), source, bundle.keys.length, 'pkcs8'));
        break;
      case 'ENCRYPTED PRIVATE KEY':
        bundle.keys.push(keyFrom(() => createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) }), source, bundle.keys.length, 'pkcs8-encrypted', true));
        break;
      case 'RSA PRIVATE KEY':
      case 'EC PRIVATE KEY': {
        const format = type === 'RSA PRIVATE KEY' ? 'pkcs1' : 'sec1';
        const encrypted = headers && /Proc-Type:\s*4,ENCRYPTED/.test(body);
        bundle.keys.push(
          keyFrom(
            () => (encrypted ? createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) }) : createPrivateKey({ key: der, format: 'der', type: format })),
            source,
            bundle.keys.length,
            format,
            encrypted,
          ),
        );
        break;
      }
      case 'EC PARAMETERS':
        break; // `openssl ecparam -genkey` writes these before the key; nothing to use
      default:
        skipped.push(type);
    }
  }
  if (bundle.certs.length === 0 && bundle.keys.length === 0) {
    const begin = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text.slice(consumed));
    if (begin && !text.slice(consumed).includes('-----END ')) {
      throw new InputError(`${source}: the PEM block "${begin[1]}" has no END line: the file is truncated`, { file: source, hint: 'Copy the whole file again, including the -----END ...----- line.' });
    }
    const first = skipped[0];
    if (first) {
      throw new InputError(`${source}: contains ${WRONG_TYPE_HINTS[first] ?? `a "${first}" block, which is neither a certificate nor a private key`}`, { file: source });
    }
    throw new InputError(`${source}: no certificate or private key found (expected PEM, DER or PKCS#12)`, { file: source });
  }
  // A BEGIN after the last complete block without its END: a truncated bundle.
  const rest = text.slice(consumed);
  const dangling = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(rest);
  if (dangling) {
    throw new InputError(`${source}: the last PEM block "${dangling[1]}" has no END line: the file is truncated`, { file: source, hint: 'Copy the whole file again, including the -----END ...----- line.' });
  }
  return bundle;
}

function need(opts: ParseOptions): string {
  if (opts.passphrase === undefined) throw new NeedsPassphraseError(opts.source);
  return opts.passphrase;
}

function certFrom(der: Buffer, source: string, index: number, trusted = false): CertEntry {
  try {
    // OpenSSL's TRUSTED CERTIFICATE is a certificate followed by trust settings: keep the first SEQUENCE.
    const body = trusted ? der.subarray(0, derLength(der)) : der;
    return { cert: new X509Certificate(body), der: body, source, index };
  } catch {
    throw new InputError(`${source}: certificate #${index + 1} is damaged (not valid DER inside the PEM block)`, { file: source, hint: 'Get a fresh copy of the certificate from your CA.' });
  }
}

function keyFrom(make: () => KeyObject, source: string, index: number, format: KeyEntry['format'], encrypted = false): KeyEntry {
  try {
    const key = make();
    if (key.type !== 'private') throw new Error('not a private key');
    return { key, source, index, format };
  } catch (err) {
    if (err instanceof InputError) throw err;
    // A wrong passphrase passes the CBC padding check about once in 256 tries and then
    // fails as "bad DER": for encrypted input, any failure after decryption means the passphrase.
    if (encrypted && (err as { code?: string }).code !== 'ERR_MISSING_PASSPHRASE') throw new WrongPassphraseError(source);
    throw keyError(err, source);
  }
}

/** Map Node/OpenSSL key errors to one line, never echoing key bytes. */
function keyError(err: unknown, source: string): InputError {
  const code = (err as { code?: string }).code ?? '';
  const msg = String((err as Error).message ?? '');
  if (code === 'ERR_MISSING_PASSPHRASE') return new NeedsPassphraseError(source);
  if (/bad decrypt|BAD_DECRYPT|wrong password|unable to decrypt/i.test(msg) || code === 'ERR_OSSL_BAD_DECRYPT') return new WrongPassphraseError(source);
  return new InputError(`${source}: the private key is damaged or in an unsupported format`, { file: source, hint: 'Expected PKCS#8, PKCS#1 (RSA) or SEC1 (EC) in PEM or DER.' });
}

/** Length of the outer DER TLV at the start of `b` (0 when it is not a SEQUENCE). */
function derLength(b: Buffer): number {
  if (b.length < 2 || b[0] !== 0x30) return 0;
  const first = b[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return 0;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

function parseBinary(data: Buffer, opts: ParseOptions): Bundle {
  const { source } = opts;
  const total = derLength(data);
  if (total === 0) throw new InputError(`${source}: no certificate or private key found (expected PEM, DER or PKCS#12)`, { file: source });
  if (total > data.length) throw new InputError(`${source}: the DER data is truncated (${data.length} of ${total} bytes)`, { file: source, hint: 'Copy the whole file again.' });
  if (looksLikePkcs12(data)) return parsePkcs12(data, opts);
  try {
    return { certs: [{ cert: new X509Certificate(data), der: data, source, index: 0 }], keys: [] };
  } catch {
    /* not a DER certificate: try keys below */
  }
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      const key = createPrivateKey({ key: data, format: 'der', type });
      return { certs: [], keys: [{ key, source, index: 0, format: type }] };
    } catch {
      /* try the next form */
    }
  }
  // Encrypted PKCS#8 in DER: SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
  if (data[derHeaderLength(data)] === 0x30 && /\x2a\x86\x48\x86\xf7\x0d\x01\x05/.test(data.subarray(0, 40).toString('latin1'))) {
    return { certs: [], keys: [keyFrom(() => createPrivateKey({ key: data, format: 'der', type: 'pkcs8', passphrase: need(opts) }), source, 0, 'pkcs8-encrypted', true)] };
  }
  throw new InputError(`${source}: DER data that is neither a certificate, a private key nor PKCS#12`, { file: source });
}

function derHeaderLength(b: Buffer): number {
  const first = b[1] ?? 0;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

/** PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL } */
function looksLikePkcs12(b: Buffer): boolean {
  const h = derHeaderLength(b);
  return b[h] === 0x02 && b[h + 1] === 0x01 && b[h + 2] === 0x03 && b[h + 3] === 0x30;
}

function parsePkcs12(data: Buffer, opts: ParseOptions): Bundle {
  const { source } = opts;
  // node-forge is loaded only here: most runs never read a PFX.
  const forge = requireForge();
  let p12: import('node-forge').pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(data.toString('binary'));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, opts.passphrase ?? '');
  } catch (err) {
    const msg = String((err as Error).message ?? '');
    if (/MAC could not be verified|Invalid password|wrong password|decrypt/i.test(msg)) {
      // PKCS#12 protects certificates too (the MAC covers the whole file), not only the key.
      throw opts.passphrase === undefined ? new NeedsPassphraseError(source, 'the PKCS#12 file is protected by a passphrase') : new WrongPassphraseError(source, 'the PKCS#12 file');
    }
    throw new InputError(`${source}: the PKCS#12 file is damaged or uses an unsupported algorithm`, { file: source, hint: 'Re-export it, e.g. "openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.p12".' });
  }
  const bundle: Bundle = { certs: [], keys: [] };
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags) {
      const b = bag as typeof bag & { asn1?: import('node-forge').asn1.Asn1 };
      if (bag.type === forge.pki.oids.certBag) {
        const asn = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : b.asn1;
        if (asn) bundle.certs.push(certFrom(Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary'), source, bundle.certs.length));
      } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        // forge builds RSA keys itself and leaves others (EC) as decrypted PKCS#8 ASN.1.
        const asn = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as import('node-forge').pki.rsa.PrivateKey)) : b.asn1;
        if (asn) {
          const der = Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary');
          bundle.keys.push(keyFrom(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), source, bundle.keys.length, 'pkcs12'));
        }
      }
    }
  }
  if (bundle.certs.length === 0 && bundle.keys.length === 0) throw new InputError(`${source}: the PKCS#12 file holds no certificate or key`, { file: source });
  return bundle;
}

let forgeModule: typeof import('node-forge') | undefined;

/** Load node-forge ahead of a synchronous PKCS#12 parse (readBundle does it for PFX input); this
 * static-string import is what lets the one-file bundle carry forge without node_modules. */
export async function preloadForge(): Promise<void> {
  if (forgeModule) return;
  const m = (await import('node-forge')) as unknown as { default?: typeof import('node-forge') } & typeof import('node-forge');
  forgeModule = m.default ?? m;
}

function requireForge(): typeof import('node-forge') {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof import('node-forge');
  return forgeModule;
}

/** Read and parse one file, with one-line errors for the usual file problems. */
export async function readBundle(file: string, opts: { passphrase?: string } = {}): Promise<Bundle> {
  let data: Buffer;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new InputError(`${file}: is a directory, not a certificate or key file`, { file });
    data = await readFile(file);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${file}: no such file`, { file, hint: 'Check the path (relative paths are from the current folder).' });
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`${file}: permission denied`, { file, hint: 'Make the file readable by this user (keys: chmod 600, owned by you).' });
    throw new InputError(`${file}: cannot be read (${code ?? 'I/O error'})`, { file });
  }
  if (!data.toString('latin1', 0, 64).includes('-----BEGIN') && looksLikePkcs12(data)) await preloadForge();
  return parseBundle(data, { source: file, passphrase: opts.passphrase });
}

/** Merge bundles from several files, keeping their sources. */
export function mergeBundles(bundles: readonly Bundle[]): Bundle {
  return { certs: bundles.flatMap((b) => b.certs), keys: bundles.flatMap((b) => b.keys) };
}
