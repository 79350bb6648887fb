// Profile checks: what RFC 5280 says a conforming certificate MUST (NOT) carry, and what
// the Web PKI (CA/B Forum BRs, as rustls-webpki and browsers enforce them) adds. Each one
// is a reason a TLS client may reject the chain even though the signatures are fine.
import type { Check, CertEntry } from './types.js';
import { certFacts, certLabel, keyDescription, oneLineName } from './describe.js';
import type { CertFacts } from './x509-extensions.js';

const AIA = '1.3.6.1.5.5.7.1.1';
const SAN = '2.5.29.17';
const EKU = '2.5.29.37';
const NC = '2.5.29.30';
const AKI = '2.5.29.35';

function c(id: string, message: string, e: CertEntry): Check {
  return {
    id,
    status: 'fail',
    message: `${e.source}: ${certLabel(e.cert)} ${message}`,
    file: e.source,
    subject: oneLineName(e.cert.subject),
    serial: e.cert.serialNumber.toUpperCase(),
  };
}

/** A preferred-name-syntax DNS name (RFC 1034 §3.5, RFC 5280 §4.2.1.6), wildcard only whole left label. */
export function validDnsSan(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.replace(/\.$/, '').split('.');
  return labels.every(
    (l, i) => (i === 0 && l === '*' && labels.length > 2) || /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l),
  );
}

/** Checks for one path [leaf, ..., anchor]. */
export function profileChecks(path: CertEntry[]): Check[] {
  const last = path.length - 1;
  return path.flatMap((e, i) => {
    const f = certFacts(e.cert);
    const isLeaf = i === 0;
    const isAnchor = i === last && i > 0;
    return [
      ...extensionChecks(e, f, isLeaf),
      ...serialChecks(e, f),
      ...keyIdentifierChecks(e, f, isLeaf, isAnchor),
      ...(isLeaf ? leafChecks(e, f) : caChecks(e, f)),
      ...keyChecks(e),
    ];
  });
}

/** Criticality and uniqueness of the extensions (RFC 5280 §4.2, and the Web PKI for EKU). */
function extensionChecks(e: CertEntry, f: CertFacts, isLeaf: boolean): Check[] {
  const out: Check[] = [];
  const seen = new Set<string>();
  for (const x of f.extensions) {
    if (seen.has(x.oid))
      out.push(
        c(
          'profile.duplicate-extension',
          `has the extension ${x.oid} twice (RFC 5280 §4.2 forbids it): the certificate is malformed`,
          e,
        ),
      );
    seen.add(x.oid);
    if (x.oid === AIA && x.critical)
      out.push(c('profile.critical-aia', 'marks authorityInfoAccess critical, which RFC 5280 forbids', e));
    if (x.oid === AKI && x.critical)
      out.push(c('profile.critical-aki', 'marks authorityKeyIdentifier critical, which RFC 5280 forbids', e));
    if (x.oid === NC && !x.critical)
      out.push(c('profile.nc-noncritical', 'has non-critical name constraints; RFC 5280 requires them critical', e));
    if (x.oid === SAN && x.critical && f.subjectCN.length + (e.cert.subject ? 1 : 0) > 0)
      out.push(
        c(
          'profile.san-critical',
          'marks subjectAltName critical although its subject is not empty (RFC 5280 §4.2.1.6)',
          e,
        ),
      );
    if (x.oid === SAN && !x.critical && !e.cert.subject)
      out.push(
        c(
          'profile.san-noncritical',
          'has an empty subject, so its subjectAltName must be critical (RFC 5280 §4.2.1.6)',
          e,
        ),
      );
    if (x.oid === EKU && x.critical && isLeaf)
      out.push(c('profile.critical-eku', 'marks extendedKeyUsage critical, which the Web PKI forbids', e));
  }
  return out;
}

/** Serial: a positive integer of at most 20 octets (RFC 5280 §4.1.2.2). */
function serialChecks(e: CertEntry, f: CertFacts): Check[] {
  const out: Check[] = [];
  const s = f.serialBytes;
  // 20 octets of value; a leading 0x00 that keeps a high-bit value positive is encoding, not value.
  const valueLength = s.length > 1 && s[0] === 0 ? s.length - 1 : s.length;
  if (valueLength > 20)
    out.push(
      c('profile.serial', `has a ${valueLength}-octet serial number; at most 20 are allowed (RFC 5280 §4.1.2.2)`, e),
    );
  if (s.length && s[0]! & 0x80) out.push(c('profile.serial', 'has a negative serial number (RFC 5280 §4.1.2.2)', e));
  if (s.every((b) => b === 0)) out.push(c('profile.serial', 'has serial number zero (RFC 5280 §4.1.2.2)', e));
  return out;
}

/** Key identifiers (RFC 5280 §4.2.1.1, §4.2.1.2; the Web PKI forbids the AKI's issuer fields). */
function keyIdentifierChecks(e: CertEntry, f: CertFacts, isLeaf: boolean, isAnchor: boolean): Check[] {
  const out: Check[] = [];
  const selfSigned = e.cert.subject === e.cert.issuer;
  const hasAki = f.extensions.some((x) => x.oid === AKI);
  if (!selfSigned && !f.aki)
    out.push(
      c(
        'profile.aki',
        'has no authorityKeyIdentifier, which RFC 5280 requires on every certificate not self-signed',
        e,
      ),
    );
  if (!isLeaf && !f.ski)
    out.push(c('profile.ski', 'is a CA without subjectKeyIdentifier, which RFC 5280 requires on CA certificates', e));
  if (isAnchor && selfSigned && hasAki && (!f.aki || f.akiHasIssuerFields || (f.ski && f.aki !== f.ski))) {
    out.push(c('profile.aki', 'is a root whose authorityKeyIdentifier is not just its own key identifier', e));
  }
  if (!isLeaf && f.akiHasIssuerFields)
    out.push(
      c(
        'profile.aki',
        'carries authorityCertIssuer/serial in its authorityKeyIdentifier, which the Web PKI forbids',
        e,
      ),
    );
  return out;
}

/** CA flags: basicConstraints present, critical and CA:TRUE on every issuer, trust anchors included. */
function caChecks(e: CertEntry, f: CertFacts): Check[] {
  const out: Check[] = [];
  if (!f.basicConstraints)
    out.push(
      c(
        'profile.basic-constraints',
        'is a CA without basicConstraints (a v1 certificate): clients reject it as an issuer',
        e,
      ),
    );
  else if (!f.basicConstraints.critical)
    out.push(
      c(
        'profile.basic-constraints',
        'has non-critical basicConstraints; RFC 5280 requires them critical on CA certificates',
        e,
      ),
    );
  if (f.emptyNameConstraints)
    out.push(
      c(
        'profile.nc-empty',
        'has name constraints with neither permitted nor excluded subtrees (RFC 5280 §4.2.1.10)',
        e,
      ),
    );
  return out;
}

function leafChecks(e: CertEntry, f: CertFacts): Check[] {
  const out: Check[] = [];
  if (f.keyUsage?.includes('keyCertSign') && !f.basicConstraints?.ca)
    out.push(c('profile.leaf-keycertsign', 'is not a CA but has keyUsage keyCertSign', e));
  if (f.extensions.some((x) => x.oid === NC))
    out.push(
      c('profile.nc-in-leaf', 'is an end-entity certificate with name constraints, which only CAs may carry', e),
    );
  if (f.eku && f.eku.length === 0) out.push(c('profile.eku-empty', 'has an empty extendedKeyUsage extension', e));
  for (const d of f.san.dns)
    if (!validDnsSan(d)) out.push(c('profile.san-syntax', `has an invalid DNS name "${d}" in its subjectAltName`, e));
  // CA/B BR 7.1.4.3: a subject CN, when present, repeats one of the SANs exactly.
  for (const cn of f.subjectCN) {
    // An IP-looking CN must be one of the IP SANs written the canonical way; a name, one of the DNS SANs.
    const ipLike = /^[0-9.]+$|^0x[0-9a-f]+$|:/i.test(cn);
    const ipText = (ip: string) => (ip.includes(':') ? ip.toLowerCase().replace(/\b0+(?=[0-9a-f])/g, '') : ip);
    const bad = ipLike
      ? f.san.ip.length > 0 && !f.san.ip.some((ip) => ipText(ip) === cn)
      : f.san.dns.length > 0 && !f.san.dns.includes(cn);
    if (bad) {
      out.push(c('profile.cn-not-in-san', `has subject CN "${cn}", which is not one of its SANs`, e));
    }
  }
  return out;
}

/** Key types browsers accept: RSA ≥ 2048 with whole-byte moduli, ECDSA on P-256/P-384/P-521. */
function keyChecks(e: CertEntry): Check[] {
  const out: Check[] = [];
  const k = keyDescription(e.cert.publicKey);
  const details = e.cert.publicKey.asymmetricKeyDetails ?? {};
  if (k.keyType === 'rsa' && (k.keyBits ?? 0) % 8 !== 0)
    out.push(c('profile.key', `has a ${k.keyBits}-bit RSA modulus (not a whole number of bytes)`, e));
  if (k.keyType === 'ecdsa' && !['P-256', 'P-384', 'P-521'].includes(k.curve ?? '')) {
    const curve = k.curve ?? (details.namedCurve ? details.namedCurve : 'with explicit parameters');
    out.push(c('profile.key', `uses the elliptic curve ${curve}, which TLS clients do not accept`, e));
  }
  if (k.keyType === 'other' || e.cert.publicKey.asymmetricKeyType === 'dsa')
    out.push(
      c(
        'profile.key',
        `has a ${e.cert.publicKey.asymmetricKeyType ?? 'unknown'} key, which TLS clients do not accept`,
        e,
      ),
    );
  return out;
}
