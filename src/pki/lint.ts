// Lint: what clients or the CA/B Forum reject even when the chain validates.
import type { Check, CertEntry } from './types.js';
import { certFacts, certLabel, keyDescription, oneLineName } from './describe.js';

const DAY_MS = 86_400_000;
/** CA/B Forum BR 6.3.2 (and Apple, Chrome, Mozilla root programs): publicly trusted server certificates. */
export const MAX_LIFETIME_DAYS = 398;
/** Apple platforms refuse any TLS server certificate valid longer than this, whatever its root
 * (support.apple.com/en-us/103769, iOS 13 / macOS 10.15). */
export const APPLE_MAX_LIFETIME_DAYS = 825;
export const EXPIRY_WARNING_DAYS = 30;

/** DER of OID 1.2.840.10045.2.1 (id-ecPublicKey) followed by the tag of a SEQUENCE (SpecifiedECDomain). */
const EXPLICIT_EC_PARAMS = Buffer.from('06072a8648ce3d020130', 'hex');

function c(id: string, status: Check['status'], message: string, e: CertEntry): Check {
  return {
    id,
    status,
    message,
    file: e.source,
    subject: oneLineName(e.cert.subject),
    serial: e.cert.serialNumber.toUpperCase(),
  };
}

export interface LintInput {
  leaf: CertEntry;
  path: CertEntry[];
  at: Date;
  rootInServedChain?: CertEntry;
  /** Does the path end at a publicly trusted root (in the system store)? Then the Web PKI's rules
   * apply. Asked only for a leaf over 398 days, so the store is not loaded otherwise. */
  publicRoot?: () => boolean;
}

const where = (e: CertEntry) => `${e.source}: ${certLabel(e.cert)}`;

export function lintChain(opts: LintInput): Check[] {
  const { leaf, path, at } = opts;
  const anchor = path.length > 1 ? path[path.length - 1] : undefined;
  return [
    ...path.flatMap((e) => chainCertChecks(e, anchor)),
    ...leafPurposeChecks(leaf),
    ...leafKeyType(leaf, where(leaf)),
    ...lifetimeChecks(leaf, where(leaf), opts.publicRoot ?? (() => false)),
    ...path.flatMap((e) => expiryCheck(e, at)),
    ...(opts.rootInServedChain ? [rootInChainCheck(opts.rootInServedChain)] : []),
  ];
}

/** Key size, curve encoding and signature hash of one certificate of the path. */
function chainCertChecks(e: CertEntry, anchor: CertEntry | undefined): Check[] {
  const out: Check[] = [];
  const k = keyDescription(e.cert.publicKey);
  if ((k.keyType === 'rsa' || k.keyType === 'rsa-pss') && (k.keyBits ?? 0) < 2048) {
    const message =
      `${where(e)} has a ${k.keyBits}-bit RSA key; clients require at least 2048 bits: ` +
      'issue a new certificate with a 2048-bit or larger key';
    out.push(c('lint.rsa-size', 'fail', message, e));
  }
  // RFC 5480 §2.1.1: certificates name their curve; explicit parameters are refused by
  // BoringSSL, Go and NSS (and were the vector of CVE-2020-0601). Node hides the difference,
  // so look at the encoding: the id-ecPublicKey OID followed by a SEQUENCE, not an OID.
  if (k.keyType === 'ecdsa' && e.der.includes(EXPLICIT_EC_PARAMS)) {
    const message =
      `${where(e)} encodes its EC key with explicit curve parameters instead of a named curve; ` +
      'TLS clients reject it: have it reissued';
    out.push(c('lint.ec-explicit', 'fail', message, e));
  }
  // The trust anchor's own signature is never checked by clients, so its hash does not matter.
  const hash = certFacts(e.cert).signatureHash;
  if (e !== anchor && (hash === 'SHA-1' || hash === 'MD5')) {
    const message = `${where(e)} is signed with ${hash}, which TLS clients reject: have it reissued with SHA-256`;
    out.push(c('lint.signature-hash', 'fail', message, e));
  }
  return out;
}

/** The leaf must be a TLS server certificate: serverAuth when it has an EKU, and not a CA. */
function leafPurposeChecks(leaf: CertEntry): Check[] {
  const out: Check[] = [];
  const f = certFacts(leaf.cert);
  // anyExtendedKeyUsage alone is not enough: the Web PKI wants serverAuth named (rustls-webpki, Chrome).
  if (f.eku && f.eku.length && !f.eku.includes('serverAuth')) {
    const message =
      `${where(leaf)} has extended key usage ${f.eku.join(', ')} without serverAuth: ` +
      'request a TLS server certificate';
    out.push(c('lint.server-auth', 'fail', message, leaf));
  }
  if (f.basicConstraints?.ca) {
    const message =
      `${where(leaf)} is a CA certificate (CA:TRUE), not a server certificate: ` +
      'use the certificate issued for the host';
    out.push(c('lint.leaf-ca', 'fail', message, leaf));
  }
  return out;
}

function expiryCheck(e: CertEntry, at: Date): Check[] {
  const left = (new Date(e.cert.validTo).getTime() - at.getTime()) / DAY_MS;
  if (left < 0 || left >= EXPIRY_WARNING_DAYS) return [];
  const expires = new Date(e.cert.validTo).toISOString();
  return [
    c('lint.expiry-soon', 'warn', `${where(e)} expires in ${Math.floor(left)} days (${expires}): plan its renewal`, e),
  ];
}

function rootInChainCheck(root: CertEntry): Check {
  const message =
    `${where(root)} is a root in the served chain; clients ignore it (it only adds bytes): ` +
    'install leaves it out of tls.crt';
  return c('lint.root-in-chain', 'warn', message, root);
}

/**
 * Server key types clients accept: the CA/Browser Forum BRs (6.1.5) allow only RSA and ECDSA on
 * P-256/P-384/P-521, and no major browser accepts Ed25519/Ed448 server certificates or an RSA key
 * restricted to PSS (id-RSASSA-PSS SubjectPublicKeyInfo). Chrome does not offer P-521 in TLS.
 */
function leafKeyType(leaf: CertEntry, label: string): Check[] {
  const k = keyDescription(leaf.cert.publicKey);
  const todo = 'request the certificate with an RSA (2048+) or ECDSA P-256/P-384 key';
  if (k.keyType === 'ed25519' || k.keyType === 'ed448') {
    const name = k.keyType === 'ed25519' ? 'Ed25519' : 'Ed448';
    return [
      c(
        'lint.key-type',
        'fail',
        `${label} has an ${name} key; Chrome, Firefox, Safari and Edge refuse ${name} server certificates: ${todo}`,
        leaf,
      ),
    ];
  }
  if (k.keyType === 'rsa-pss') {
    return [
      c(
        'lint.key-type',
        'fail',
        `${label} has an RSA-PSS-only key (id-RSASSA-PSS); Chrome, Safari and many TLS libraries refuse it ` +
          `for a server certificate: ${todo}`,
        leaf,
      ),
    ];
  }
  if (k.keyType === 'ecdsa' && k.curve === 'P-521') {
    return [
      c(
        'lint.key-type',
        'warn',
        `${label} has a P-521 key; Chrome does not offer P-521 in TLS and refuses it: prefer P-256 or P-384`,
        leaf,
      ),
    ];
  }
  return [];
}

/**
 * Lifetime: Apple platforms refuse over 825 days for every chain; the 398-day limit belongs to
 * publicly trusted roots only, so a private CA's long-lived certificate is only noted.
 */
function lifetimeChecks(leaf: CertEntry, label: string, publicRoot: () => boolean): Check[] {
  const nb = new Date(leaf.cert.validFrom).getTime();
  const na = new Date(leaf.cert.validTo).getTime();
  const lifetime = Math.round((na - nb) / DAY_MS);
  if (lifetime > APPLE_MAX_LIFETIME_DAYS) {
    return [
      c(
        'lint.lifetime',
        'fail',
        `${label} is valid for ${lifetime} days; Apple clients (Safari, iOS, macOS) refuse any TLS server ` +
          `certificate valid over ${APPLE_MAX_LIFETIME_DAYS} days: ` +
          `reissue it for at most ${APPLE_MAX_LIFETIME_DAYS} (398 for a public CA)`,
        leaf,
      ),
    ];
  }
  if (lifetime > MAX_LIFETIME_DAYS && publicRoot()) {
    return [
      c(
        'lint.lifetime',
        'warn',
        `${label} is valid for ${lifetime} days and chains to a publicly trusted root; ` +
          `browsers refuse such certificates over ${MAX_LIFETIME_DAYS} days`,
        leaf,
      ),
    ];
  }
  if (lifetime > MAX_LIFETIME_DAYS) {
    return [
      c(
        'lint.lifetime',
        'info',
        `${label} is valid for ${lifetime} days: fine for a private CA (the ${MAX_LIFETIME_DAYS}-day limit ` +
          `applies to public CAs; Apple's ${APPLE_MAX_LIFETIME_DAYS}-day limit is met)`,
        leaf,
      ),
    ];
  }
  return [];
}
