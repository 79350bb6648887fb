// Lint: what clients or the CA/B Forum reject even when the chain validates.
import type { Check, CertEntry } from './types.js';
import { certFacts, certLabel, keyDescription, oneLineName } from './describe.js';

const DAY_MS = 86_400_000;
/** CA/B Forum BR 6.3.2 and Apple/Chrome: server certificates over 398 days are refused. */
export const MAX_LIFETIME_DAYS = 398;
export const EXPIRY_WARNING_DAYS = 30;

/** DER of OID 1.2.840.10045.2.1 (id-ecPublicKey) followed by the tag of a SEQUENCE (SpecifiedECDomain). */
const EXPLICIT_EC_PARAMS = Buffer.from('06072a8648ce3d020130', 'hex');

function c(id: string, status: Check['status'], message: string, e: CertEntry): Check {
  return { id, status, message, file: e.source, subject: oneLineName(e.cert.subject), serial: e.cert.serialNumber.toUpperCase() };
}

export function lintChain(opts: { leaf: CertEntry; path: CertEntry[]; at: Date; rootInServedChain?: CertEntry }): Check[] {
  const out: Check[] = [];
  const { leaf, path, at } = opts;
  const anchor = path.length > 1 ? path[path.length - 1] : undefined;
  const where = (e: CertEntry) => `${e.source}: ${certLabel(e.cert)}`;
  for (const e of path) {
    const k = keyDescription(e.cert.publicKey);
    if ((k.keyType === 'rsa' || k.keyType === 'rsa-pss') && (k.keyBits ?? 0) < 2048) {
      out.push(c('lint.rsa-size', 'fail', `${where(e)} has a ${k.keyBits}-bit RSA key; clients require at least 2048 bits: issue a new certificate with a 2048-bit or larger key`, e));
    }
    // RFC 5480 §2.1.1: certificates name their curve; explicit parameters are refused by
    // BoringSSL, Go and NSS (and were the vector of CVE-2020-0601). Node hides the difference,
    // so look at the encoding: the id-ecPublicKey OID followed by a SEQUENCE, not an OID.
    if (k.keyType === 'ecdsa' && e.der.includes(EXPLICIT_EC_PARAMS)) {
      out.push(c('lint.ec-explicit', 'fail', `${where(e)} encodes its EC key with explicit curve parameters instead of a named curve; TLS clients reject it: have it reissued`, e));
    }
    // The trust anchor's own signature is never checked by clients, so its hash does not matter.
    const hash = certFacts(e.cert).signatureHash;
    if (e !== anchor && (hash === 'SHA-1' || hash === 'MD5')) {
      out.push(c('lint.signature-hash', 'fail', `${where(e)} is signed with ${hash}, which TLS clients reject: have it reissued with SHA-256`, e));
    }
  }
  const f = certFacts(leaf.cert);
  // anyExtendedKeyUsage alone is not enough: the Web PKI wants serverAuth named (rustls-webpki, Chrome).
  if (f.eku && f.eku.length && !f.eku.includes('serverAuth')) {
    out.push(c('lint.server-auth', 'fail', `${where(leaf)} has extended key usage ${f.eku.join(', ')} without serverAuth: request a TLS server certificate`, leaf));
  }
  if (f.basicConstraints?.ca) {
    out.push(c('lint.leaf-ca', 'fail', `${where(leaf)} is a CA certificate (CA:TRUE), not a server certificate: use the certificate issued for the host`, leaf));
  }
  const nb = new Date(leaf.cert.validFrom).getTime();
  const na = new Date(leaf.cert.validTo).getTime();
  const lifetime = Math.round((na - nb) / DAY_MS);
  if (lifetime > MAX_LIFETIME_DAYS) {
    out.push(c('lint.lifetime', 'warn', `${where(leaf)} is valid for ${lifetime} days; browsers refuse server certificates over ${MAX_LIFETIME_DAYS} days`, leaf));
  }
  for (const e of path) {
    const left = (new Date(e.cert.validTo).getTime() - at.getTime()) / DAY_MS;
    if (left >= 0 && left < EXPIRY_WARNING_DAYS) {
      out.push(c('lint.expiry-soon', 'warn', `${where(e)} expires in ${Math.floor(left)} days (${new Date(e.cert.validTo).toISOString()}): plan its renewal`, e));
    }
  }
  if (opts.rootInServedChain) {
    out.push(c('lint.root-in-chain', 'warn', `${where(opts.rootInServedChain)} is a root in the served chain; clients ignore it (it only adds bytes): install leaves it out of tls.crt`, opts.rootInServedChain));
  }
  return out;
}
