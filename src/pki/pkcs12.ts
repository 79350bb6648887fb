// PKCS#12 / PFX files (RFC 7292): node-forge unwraps them, and the certificates and keys in
// their bags are handed back to Node as DER.
import { createPrivateKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { InputError } from '../errors.js';
import {
  certFrom,
  derHeaderLength,
  keyFrom,
  NeedsPassphraseError,
  WrongPassphraseError,
  type ParseOptions,
} from './entry.js';
import type { Bundle, CertEntry, KeyEntry } from './types.js';

type Forge = typeof import('node-forge');
type SafeBag = import('node-forge').pkcs12.Bag & { asn1?: import('node-forge').asn1.Asn1 };

/** PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL } */
export function looksLikePkcs12(b: Buffer): boolean {
  const h = derHeaderLength(b);
  return b[h] === 0x02 && b[h + 1] === 0x01 && b[h + 2] === 0x03 && b[h + 3] === 0x30;
}

export function parsePkcs12(data: Buffer, opts: ParseOptions): Bundle {
  const { source } = opts;
  // node-forge is loaded only here: most runs never read a PFX.
  const forge = requireForge();
  const p12 = openPfx(forge, data, opts);
  const certs: CertEntry[] = [];
  const keys: KeyEntry[] = [];
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags as SafeBag[]) {
      if (bag.type === forge.pki.oids.certBag) {
        const der = certBagDer(forge, bag);
        if (der) certs.push(certFrom(der, source, certs.length));
      } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        const der = keyBagDer(forge, bag);
        if (der)
          keys.push(
            keyFrom(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), source, keys.length, 'pkcs12'),
          );
      }
    }
  }
  if (certs.length === 0 && keys.length === 0)
    throw new InputError(`${source}: the PKCS#12 file holds no certificate or key`, { file: source });
  return { certs, keys };
}

/** Decode the PFX and check its MAC, with the passphrase given (or the empty one). */
function openPfx(forge: Forge, data: Buffer, opts: ParseOptions): import('node-forge').pkcs12.Pkcs12Pfx {
  const { source } = opts;
  try {
    const asn1 = forge.asn1.fromDer(data.toString('binary'));
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, opts.passphrase ?? '');
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
}

function certBagDer(forge: Forge, bag: SafeBag): Buffer | undefined {
  const asn = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
  return asn ? Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary') : undefined;
}

/** PKCS#8 DER of a key bag: forge builds RSA keys itself and leaves others (EC) as decrypted PKCS#8 ASN.1. */
function keyBagDer(forge: Forge, bag: SafeBag): Buffer | undefined {
  const asn = bag.key
    ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as import('node-forge').pki.rsa.PrivateKey))
    : bag.asn1;
  return asn ? Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary') : undefined;
}

let forgeModule: Forge | undefined;

/** Load node-forge ahead of a synchronous PKCS#12 parse (readBundle does it for PFX input); this
 * static-string import is what lets the one-file bundle carry forge without node_modules. */
export async function preloadForge(): Promise<void> {
  if (forgeModule) return;
  const m = (await import('node-forge')) as unknown as { default?: Forge } & Forge;
  forgeModule = utf8Pbes2(m.default ?? m);
}

function requireForge(): Forge {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as Forge;
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
function utf8Pbes2(forge: Forge): Forge {
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
