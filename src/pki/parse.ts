// Reads certificates and private keys from any input, detected by content, never by
// file extension: PEM (any text around blocks, CRLF, BOM), DER, PKCS#12/PFX, PKCS#7
// (.p7b/.p7c: DER, "BEGIN PKCS7", and Windows ADCS's SignedData armoured as "BEGIN
// CERTIFICATE"); keys as PKCS#8 (plain or encrypted), PKCS#1, SEC1 (plain or legacy
// Proc-Type encrypted). Node's X509Certificate and KeyObject do the parsing; node-forge
// unwraps PKCS#12, whose bags are handed back to Node, and its ASN.1 reader opens PKCS#7.
// Every scan is linear in the input, and the input is bounded (./input-file.ts).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { InputError } from '../errors.js';
import { certFrom, derHeaderLength, derLength, keyFrom, need, type ParseOptions } from './entry.js';
import { readInputFile } from './input-file.js';
import { looksLikePkcs12, parsePkcs12, preloadForge } from './pkcs12.js';
import { isPkcs7, pkcs7Certs } from './pkcs7.js';
import type { Bundle, CertEntry, KeyEntry } from './types.js';

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
 * The PEM blocks of `text`, in one left-to-right pass (indexOf only, no backtracking regex: over a
 * BEGIN with no END, a regex scan is quadratic). A block whose END is missing, or whose END comes
 * after the next BEGIN, is a truncated file.
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

const CERT_TYPES = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const KEY_TYPES = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

function parsePem(text: string, opts: ParseOptions): Bundle {
  const { source } = opts;
  const certs: CertEntry[] = [];
  const keys: KeyEntry[] = [];
  const skipped: string[] = [];
  for (const block of pemBlocks(text, source)) {
    if (CERT_TYPES.has(block.type) || block.type === 'PKCS7' || block.type === 'CMS')
      certs.push(...pemCerts(block, source, certs.length));
    else if (KEY_TYPES.has(block.type)) keys.push(pemKey(block, opts, keys.length));
    // `openssl ecparam -genkey` writes EC PARAMETERS before the key; nothing to use.
    else if (block.type !== 'EC PARAMETERS') skipped.push(block.type);
  }
  if (certs.length === 0 && keys.length === 0) throw nothingUsable(source, skipped[0]);
  return { certs, keys };
}

/** The DER inside a PEM body: RFC 1421 headers (Proc-Type, DEK-Info) and whitespace dropped. */
function pemDer(body: string): Buffer {
  return Buffer.from(body.replace(/^[A-Za-z-]+:.*$/gm, '').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
}

/** The certificates of one certificate or PKCS#7 block, numbered from `firstIndex`. */
function pemCerts({ type, body }: PemBlock, source: string, firstIndex: number): CertEntry[] {
  const der = pemDer(body);
  if (type === 'PKCS7' || type === 'CMS') return pkcs7Certs(der, source, firstIndex);
  // Windows ADCS's "Base 64" certificate chain download is a PKCS#7 under this header.
  if (isPkcs7(der)) return pkcs7Certs(der, source, firstIndex);
  return [certFrom(der, source, firstIndex, type === 'TRUSTED CERTIFICATE')];
}

/** One private-key block: PKCS#8 (plain or encrypted), PKCS#1 or SEC1 (plain or Proc-Type encrypted). */
function pemKey({ type, body }: PemBlock, opts: ParseOptions, index: number): KeyEntry {
  const { source } = opts;
  const der = pemDer(body);
  const pem = `-----BEGIN ${type}-----\n${body.trim()}\n-----END ${type}-----\n`;
  if (type === 'PRIVATE KEY')
    return keyFrom(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), source, index, 'pkcs8');
  if (type === 'ENCRYPTED PRIVATE KEY') {
    const make = () => createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) });
    return keyFrom(make, source, index, 'pkcs8-encrypted', true);
  }
  const format = type === 'RSA PRIVATE KEY' ? 'pkcs1' : 'sec1';
  const encrypted = /^[A-Za-z-]+:/m.test(body) && /Proc-Type:\s*4,ENCRYPTED/.test(body);
  const make = () =>
    encrypted
      ? createPrivateKey({ key: pem, format: 'pem', passphrase: need(opts) })
      : createPrivateKey({ key: der, format: 'der', type: format });
  return keyFrom(make, source, index, format, encrypted);
}

/** Nothing usable in the PEM blocks: name the first block that was not a certificate or key. */
function nothingUsable(source: string, first: string | undefined): InputError {
  if (first) {
    const what = WRONG_TYPE_HINTS[first] ?? `a "${first}" block, which is neither a certificate nor a private key`;
    return new InputError(`${source}: contains ${what}`, { file: source });
  }
  return new InputError(`${source}: no certificate or private key found (expected PEM, DER, PKCS#12 or PKCS#7)`, {
    file: source,
  });
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
  if (isPkcs7(data)) return { certs: pkcs7Certs(data.subarray(0, total), source, 0), keys: [] };
  let asCert: X509Certificate | undefined;
  try {
    asCert = new X509Certificate(data);
  } catch {
    /* not a DER certificate: try keys below */
  }
  if (asCert) return { certs: [certFrom(data, source, 0)], keys: [] };
  const key = derKey(data, opts);
  if (key) return { certs: [], keys: [key] };
  throw new InputError(`${source}: DER data that is neither a certificate, a private key, PKCS#12 nor PKCS#7`, {
    file: source,
    hint: 'Expected a certificate (.crt/.cer/.pem), a key, a .pfx/.p12 or a .p7b from your CA.',
  });
}

/** A DER private key: PKCS#8, PKCS#1 or SEC1 in the clear, or encrypted PKCS#8; undefined for anything else. */
function derKey(data: Buffer, opts: ParseOptions): KeyEntry | undefined {
  const { source } = opts;
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      const key = createPrivateKey({ key: data, format: 'der', type });
      return { key, source, index: 0, format: type };
    } catch {
      /* try the next form */
    }
  }
  // Encrypted PKCS#8 in DER: SEQUENCE { AlgorithmIdentifier, OCTET STRING }, the algorithm
  // under the PKCS#5 arc 1.2.840.113549.1.5 (RFC 8018 Appendix A).
  if (
    data[derHeaderLength(data)] === 0x30 &&
    /\x2a\x86\x48\x86\xf7\x0d\x01\x05/.test(data.subarray(0, 40).toString('latin1'))
  ) {
    const make = () => createPrivateKey({ key: data, format: 'der', type: 'pkcs8', passphrase: need(opts) });
    return keyFrom(make, source, 0, 'pkcs8-encrypted', true);
  }
  return undefined;
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
