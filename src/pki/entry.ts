// Certificates and keys from DER, as the entries every reader returns (PEM, DER, PKCS#7,
// PKCS#12), with the one-line errors they share. Nothing here echoes key bytes.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { certFacts } from './describe.js';
import type { CertEntry, KeyEntry } from './types.js';

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

/** The passphrase, or NeedsPassphraseError when none was given. */
export function need(opts: ParseOptions): string {
  if (opts.passphrase === undefined) throw new NeedsPassphraseError(opts.source);
  return opts.passphrase;
}

export function certFrom(der: Buffer, source: string, index: number, trusted = false): CertEntry {
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

export function keyFrom(
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
export function derLength(b: Buffer): number {
  if (b.length < 2 || b[0] !== 0x30) return 0;
  const first = b[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || b.length < 2 + n) return 0;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

/** Length of the identifier and length octets of the TLV at the start of `b` (X.690 §8.1.3). */
export function derHeaderLength(b: Buffer): number {
  const first = b[1] ?? 0;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}
