// Reads certificates and private keys from any input, detected by content, never by
// file extension: PEM (any text around blocks, CRLF, BOM), DER, PKCS#12/PFX, PKCS#7
// (.p7b/.p7c: DER, "BEGIN PKCS7", and Windows ADCS's SignedData armoured as "BEGIN
// CERTIFICATE"); keys as PKCS#8 (plain or encrypted), PKCS#1, SEC1 (plain or legacy
// Proc-Type encrypted). Node's X509Certificate and KeyObject do the parsing; node-forge
// unwraps PKCS#12, whose bags are handed back to Node, and its ASN.1 reader opens PKCS#7.
// Every scan is linear in the input, and the input is bounded (./input-file.ts).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { InputError } from '../errors.js';
import forgeAsn1Module from '../cjs/forge-asn1.cjs';
import { certFacts } from './describe.js';
import { readInputFile } from './input-file.js';
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

const WRONG_TYPE_HINTS: Record<string, string> = {
  'CERTIFICATE REQUEST':
    'a certificate signing request (CSR), not a certificate: send it to your CA and use the certificate it returns',
  'NEW CERTIFICATE REQUEST':
    'a certificate signing request (CSR), not a certificate: send it to your CA and use the certificate it returns',
  'PUBLIC KEY': 'only a public key: the private key file is needed',
  'RSA PUBLIC KEY': 'only a public key: the private key file is needed',
  'X509 CRL': 'a certificate revocation list, not a certificate',
  'DH PARAMETERS': 'Diffie-Hellman parameters, not a certificate or key',
};

/** Parse one input. Throws an InputError subclass naming `source` on anything it cannot use. */
export function parseBundle(data: Buffer, opts: ParseOptions): Bundle {
  const { source } = opts;
  if (data.length === 0)
    throw new InputError(`${source}: the file is empty`, {
      file: source,
      hint: 'Check the path; expected a PEM, DER or PKCS#12 certificate or key.',
    });
  let text = data.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))
    ? data.subarray(3).toString('latin1')
    : data.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    text = text.replace(/\r\n?/g, '\n');
    return parsePem(text, opts);
  }
  return parseBinary(data, opts);
}

interface PemBlock {
  type: string;
  body: string;
}

/**
 * The PEM blocks of `text`, in one left-to-right pass (indexOf only, no backtracking regex: a
 * BEGIN with no END used to make the scan quadratic). A block whose END is missing, or whose
 * END comes after the next BEGIN, is a truncated file.
 */
function pemBlocks(text: string, source: string): PemBlock[] {
  const truncated = (type: string, which: string) =>
    new InputError(`${source}: the ${which}PEM block "${type}" has no END line: the file is truncated`, {
      file: source,
      hint: 'Copy the whole file again, including the -----END ...----- line.',
    });
  const out: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', pos);
    if (begin < 0) return out;
    const typeEnd = text.indexOf('-----', begin + 11);
    const type = typeEnd < 0 ? '' : text.slice(begin + 11, typeEnd);
    if (typeEnd < 0 || type.length > 64 || !/^[A-Z0-9 ]+$/.test(type)) {
      pos = begin + 11; // not a PEM header ("-----BEGIN something odd"): text around blocks is allowed
      continue;
    }
    const bodyStart = typeEnd + 5;
    const end = text.indexOf('-----END ', bodyStart);
    const nextBegin = text.indexOf('-----BEGIN ', bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) throw truncated(type, out.length ? 'last ' : '');
    const endTypeEnd = text.indexOf('-----', end + 9);
    const endType = endTypeEnd < 0 ? '' : text.slice(end + 9, endTypeEnd);
    if (endType !== type) {
      const shown = /^[A-Z0-9 ]{0,64}/.exec(endType)![0];
      throw new InputError(
        `${source}: PEM block "BEGIN ${type}" ends with "END ${shown}": the file is damaged or truncated`,
        { file: source, hint: 'Get a fresh copy of the file.' },
      );
    }
    out.push({ type, body: text.slice(bodyStart, end) });
    pos = endTypeEnd + 5;
  }
}

/** DER of OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), as it follows the ContentInfo SEQUENCE header. */
const SIGNED_DATA_OID = Buffer.from('06092a864886f70d010702', 'hex');

function isPkcs7(der: Buffer): boolean {
  return (
    der[0] === 0x30 &&
    der.subarray(derHeaderLength(der), derHeaderLength(der) + SIGNED_DATA_OID.length).equals(SIGNED_DATA_OID)
  );
}

function parsePem(text: string, opts: ParseOptions): Bundle {
  const { source } = opts;
  const bundle: Bundle = { certs: [], keys: [] };
  const skipped: string[] = [];
  for (const { type, body } of pemBlocks(text, source)) {
    const headers = /^[A-Za-z-]+:/m.test(body);
    const der = Buffer.from(body.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    const pem = `-----BEGIN ${type}-----\n${body.trim()}\n-----END ${type}-----\n`;
    switch (type) {
      case 'CERTIFICATE':
      case 'X509 CERTIFICATE':
      case 'TRUSTED CERTIFICATE':
        // Windows ADCS's "Base 64" certificate chain download is a PKCS#7 under this header.
        if (isPkcs7(der)) pkcs7Into(der, source, bundle);
        else bundle.certs.push(certFrom(der, source, bundle.certs.length, type === 'TRUSTED CERTIFICATE'));
        break;
      case 'PKCS7':
      case 'CMS':
        pkcs7Into(der, source, bundle);
        break;
      case 'PRIVATE KEY':
        bundle.keys.push(
          keyFrom(
            () => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
            source,
            bundle.keys.length,
            'pkcs8',
          ),
        );
        break;
      case 'ENCRYPTED PRIVATE KEY':
        bundle.keys.push(
          keyFrom(
            () => createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) }),
            source,
            bundle.keys.length,
            'pkcs8-encrypted',
            true,
          ),
        );
        break;
      case 'RSA PRIVATE KEY':
      case 'EC PRIVATE KEY': {
        const format = type === 'RSA PRIVATE KEY' ? 'pkcs1' : 'sec1';
        const encrypted = headers && /Proc-Type:\s*4,ENCRYPTED/.test(body);
        bundle.keys.push(
          keyFrom(
            () =>
              encrypted
                ? createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) })
                : createPrivateKey({ key: der, format: 'der', type: format }),
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
    const first = skipped[0];
    if (first) {
      throw new InputError(
        `${source}: contains ${WRONG_TYPE_HINTS[first] ?? `a "${first}" block, which is neither a certificate nor a private key`}`,
        { file: source },
      );
    }
    throw new InputError(`${source}: no certificate or private key found (expected PEM, DER, PKCS#12 or PKCS#7)`, {
      file: source,
    });
  }
  return bundle;
}

const CONTEXT = 0x80;
type Asn1Node = import('node-forge').asn1.Asn1;
const kids = (n: Asn1Node | undefined): Asn1Node[] => (n && Array.isArray(n.value) ? (n.value as Asn1Node[]) : []);
const SEQUENCE = 16;
const OID = 6;

/** A constructed node of this class and tag: its value is the array of children (X.690 §8.1.2.5). */
function isConstructed(n: Asn1Node | undefined, tagClass: number, type: number): n is Asn1Node {
  return Boolean(n) && n!.tagClass === tagClass && n!.type === type && n!.constructed && Array.isArray(n!.value);
}

/** The dotted OID of a primitive OBJECT IDENTIFIER node, or undefined for anything else (X.690 §8.19). */
function oidOf(n: Asn1Node | undefined, asn1: typeof forgeAsn1Module): string | undefined {
  if (!n || n.tagClass !== 0 || n.type !== OID || n.constructed || typeof n.value !== 'string') return undefined;
  try {
    return asn1.derToOid(n.value);
  } catch {
    return undefined;
  }
}

/**
 * The certificates of a PKCS#7 SignedData (RFC 5652 §5.1: ContentInfo { signedData, [0] SignedData
 * { version, digestAlgorithms, encapContentInfo, [0] IMPLICIT certificates, [1] crls, signerInfos } }).
 * The ".p7b" a CA portal or Windows ADCS hands out is this "degenerate" form: certificates, no signers.
 * forge's lenient reader hands back whatever the bytes say: every node's shape is checked before
 * its value is used (a constructed "OID" is an array, not bytes).
 */
function pkcs7Into(der: Buffer, source: string, bundle: Bundle): void {
  const damaged = () =>
    new InputError(`${source}: the PKCS#7 (.p7b) data is damaged`, {
      file: source,
      hint: 'Download the certificate chain from your CA again.',
    });
  const asn1 = forgeAsn1Module;
  let root: Asn1Node;
  try {
    root = asn1.fromDer(der.toString('binary'), { strict: false, decodeBitStrings: false } as unknown as boolean);
  } catch {
    throw damaged();
  }
  if (!isConstructed(root, 0, SEQUENCE)) throw damaged();
  const [oid, wrapped] = kids(root);
  if (oidOf(oid, asn1) !== '1.2.840.113549.1.7.2') {
    throw new InputError(`${source}: a PKCS#7 message that is not a certificate bundle (not SignedData)`, {
      file: source,
      hint: 'Ask your CA for the chain as .p7b, .pem or .crt.',
    });
  }
  const signedData = kids(wrapped)[0];
  if (!isConstructed(wrapped, CONTEXT, 0) || !isConstructed(signedData, 0, SEQUENCE)) throw damaged();
  const certsNode = kids(signedData).find((n) => n.tagClass === CONTEXT && n.type === 0);
  if (certsNode && !isConstructed(certsNode, CONTEXT, 0)) throw damaged();
  const before = bundle.certs.length;
  for (const c of kids(certsNode)) {
    // Only plain certificates (SEQUENCE); attribute or other certificate choices are not X.509.
    if (!isConstructed(c, 0, SEQUENCE)) continue;
    let bytes: Buffer;
    try {
      bytes = Buffer.from(asn1.toDer(c).getBytes(), 'binary');
    } catch {
      throw damaged();
    }
    bundle.certs.push(certFrom(bytes, source, bundle.certs.length));
  }
  if (bundle.certs.length === before)
    throw new InputError(`${source}: the PKCS#7 (.p7b) bundle holds no certificate`, {
      file: source,
      hint: 'Download the certificate chain from your CA again (with "include all certificates in the path").',
    });
}

function need(opts: ParseOptions): string {
  if (opts.passphrase === undefined) throw new NeedsPassphraseError(opts.source);
  return opts.passphrase;
}

function certFrom(der: Buffer, source: string, index: number, trusted = false): CertEntry {
  // OpenSSL's TRUSTED CERTIFICATE is a certificate followed by trust settings: keep the first SEQUENCE.
  const body = trusted ? der.subarray(0, derLength(der)) : der;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(body);
  } catch {
    throw new InputError(`${source}: certificate #${index + 1} is damaged (not valid DER)`, {
      file: source,
      hint: 'Get a fresh copy of the certificate from your CA.',
    });
  }
  const problem = unusable(cert);
  if (problem)
    throw new InputError(`${source}: certificate #${index + 1} is damaged: ${problem}`, {
      file: source,
      hint: 'Get a fresh copy of the certificate from your CA.',
    });
  return { cert, der: body, source, index };
}

/**
 * Node parses lazily: a certificate can construct and still fail later on its public key
 * ("decode error") or an unrepresentable date (RangeError). Find that here, once, so every later
 * step (describe, path building, lint) works on certificates that are whole.
 */
export function unusable(cert: X509Certificate): string | undefined {
  try {
    void cert.publicKey.asymmetricKeyType;
  } catch {
    return 'its public key cannot be decoded';
  }
  if (Number.isNaN(new Date(cert.validFrom).getTime()) || Number.isNaN(new Date(cert.validTo).getTime()))
    return 'its validity dates cannot be read';
  try {
    certFacts(cert);
  } catch {
    return 'its contents are not valid DER';
  }
  return undefined;
}

function keyFrom(
  make: () => KeyObject,
  source: string,
  index: number,
  format: KeyEntry['format'],
  encrypted = false,
): KeyEntry {
  try {
    const key = make();
    if (key.type !== 'private') throw new Error('not a private key');
    return { key, source, index, format, ...(encrypted ? { encrypted: true } : {}) };
  } catch (err) {
    if (err instanceof InputError) throw err;
    // A wrong passphrase passes the CBC padding check about once in 256 tries and then
    // fails as "bad DER": for encrypted input, any failure after decryption means the passphrase.
    if (encrypted && (err as { code?: string }).code !== 'ERR_MISSING_PASSPHRASE')
      throw new WrongPassphraseError(source);
    throw keyError(err, source);
  }
}

/** Map Node/OpenSSL key errors to one line, never echoing key bytes. */
function keyError(err: unknown, source: string): InputError {
  const code = (err as { code?: string }).code ?? '';
  const msg = String((err as Error).message ?? '');
  if (code === 'ERR_MISSING_PASSPHRASE') return new NeedsPassphraseError(source);
  if (/bad decrypt|BAD_DECRYPT|wrong password|unable to decrypt/i.test(msg) || code === 'ERR_OSSL_BAD_DECRYPT')
    return new WrongPassphraseError(source);
  return new InputError(`${source}: the private key is damaged or in an unsupported format`, {
    file: source,
    hint: 'Expected PKCS#8, PKCS#1 (RSA) or SEC1 (EC) in PEM or DER.',
  });
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
  if (total === 0)
    throw new InputError(`${source}: no certificate or private key found (expected PEM, DER, PKCS#12 or PKCS#7)`, {
      file: source,
    });
  if (total > data.length)
    throw new InputError(`${source}: the DER data is truncated (${data.length} of ${total} bytes)`, {
      file: source,
      hint: 'Copy the whole file again.',
    });
  if (looksLikePkcs12(data)) return parsePkcs12(data, opts);
  if (isPkcs7(data)) {
    const bundle: Bundle = { certs: [], keys: [] };
    pkcs7Into(data.subarray(0, total), source, bundle);
    return bundle;
  }
  let asCert: X509Certificate | undefined;
  try {
    asCert = new X509Certificate(data);
  } catch {
    /* not a DER certificate: try keys below */
  }
  if (asCert) return { certs: [certFrom(data, source, 0)], keys: [] };
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      const key = createPrivateKey({ key: data, format: 'der', type });
      return { certs: [], keys: [{ key, source, index: 0, format: type }] };
    } catch {
      /* try the next form */
    }
  }
  // Encrypted PKCS#8 in DER: SEQUENCE { AlgorithmIdentifier, OCTET STRING }.
  if (
    data[derHeaderLength(data)] === 0x30 &&
    /\x2a\x86\x48\x86\xf7\x0d\x01\x05/.test(data.subarray(0, 40).toString('latin1'))
  ) {
    return {
      certs: [],
      keys: [
        keyFrom(
          () => createPrivateKey({ key: data, format: 'der', type: 'pkcs8', passphrase: need(opts) }),
          source,
          0,
          'pkcs8-encrypted',
          true,
        ),
      ],
    };
  }
  throw new InputError(`${source}: DER data that is neither a certificate, a private key, PKCS#12 nor PKCS#7`, {
    file: source,
    hint: 'Expected a certificate (.crt/.cer/.pem), a key, a .pfx/.p12 or a .p7b from your CA.',
  });
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
      throw opts.passphrase === undefined
        ? new NeedsPassphraseError(source, 'the PKCS#12 file is protected by a passphrase')
        : new WrongPassphraseError(source, 'the PKCS#12 file');
    }
    throw new InputError(`${source}: the PKCS#12 file is damaged or uses an unsupported algorithm`, {
      file: source,
      hint: 'Re-export it, e.g. "openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.p12".',
    });
  }
  const bundle: Bundle = { certs: [], keys: [] };
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags) {
      const b = bag as typeof bag & { asn1?: import('node-forge').asn1.Asn1 };
      if (bag.type === forge.pki.oids.certBag) {
        const asn = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : b.asn1;
        if (asn)
          bundle.certs.push(
            certFrom(Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary'), source, bundle.certs.length),
          );
      } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        // forge builds RSA keys itself and leaves others (EC) as decrypted PKCS#8 ASN.1.
        const asn = bag.key
          ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as import('node-forge').pki.rsa.PrivateKey))
          : b.asn1;
        if (asn) {
          const der = Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary');
          bundle.keys.push(
            keyFrom(
              () => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
              source,
              bundle.keys.length,
              'pkcs12',
            ),
          );
        }
      }
    }
  }
  if (bundle.certs.length === 0 && bundle.keys.length === 0)
    throw new InputError(`${source}: the PKCS#12 file holds no certificate or key`, { file: source });
  return bundle;
}

let forgeModule: typeof import('node-forge') | undefined;

/** Load node-forge ahead of a synchronous PKCS#12 parse (readBundle does it for PFX input); this
 * static-string import is what lets the one-file bundle carry forge without node_modules. */
export async function preloadForge(): Promise<void> {
  if (forgeModule) return;
  const m = (await import('node-forge')) as unknown as {
    default?: typeof import('node-forge');
  } & typeof import('node-forge');
  forgeModule = utf8Pbes2(m.default ?? m);
}

function requireForge(): typeof import('node-forge') {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof import('node-forge');
  return utf8Pbes2(forgeModule);
}

const patched = new WeakSet<object>();
/**
 * PKCS#12 uses two password encodings: its MAC and the legacy PBE algorithms (RC2, 3DES) take
 * the passphrase as a BMPString (RFC 7292 B.1), but PBES2 (OpenSSL 3's and Windows' AES-256
 * default) hands it to PBKDF2 as octets, which OpenSSL and Windows take to be UTF-8 (RFC 8018
 * §3 leaves the encoding to the application). node-forge passes the same JS string to both, so a
 * non-ASCII passphrase fails PBES2 only. Encode it as UTF-8 on the PBES2 road alone.
 */
function utf8Pbes2(forge: typeof import('node-forge')): typeof import('node-forge') {
  const pbe = (
    forge.pki as unknown as { pbe: { getCipherForPBES2: (oid: string, params: unknown, password: string) => unknown } }
  ).pbe;
  if (!patched.has(pbe)) {
    const original = pbe.getCipherForPBES2.bind(pbe);
    pbe.getCipherForPBES2 = (oid, params, password) => original(oid, params, forge.util.encodeUtf8(password));
    patched.add(pbe);
  }
  return forge;
}

/** Read one input file (bounded, regular files only: ./input-file.ts). */
export async function readInputBytes(file: string): Promise<Buffer> {
  const data = await readInputFile(file);
  if (!data.toString('latin1', 0, 64).includes('-----BEGIN') && looksLikePkcs12(data)) await preloadForge();
  return data;
}

/** Read and parse one file, with one-line errors for the usual file problems. */
export async function readBundle(file: string, opts: { passphrase?: string } = {}): Promise<Bundle> {
  return parseBundle(await readInputBytes(file), { source: file, passphrase: opts.passphrase });
}

/** Merge bundles from several files, keeping their sources. */
export function mergeBundles(bundles: readonly Bundle[]): Bundle {
  return { certs: bundles.flatMap((b) => b.certs), keys: bundles.flatMap((b) => b.keys) };
}
