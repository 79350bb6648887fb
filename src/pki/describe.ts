// Facts about certificates and keys for humans and JSON. Node's X509Certificate gives
// the basics; the extensions Node does not expose (key usage bits, path length, key
// identifiers, name constraints, signature algorithm) are read from the DER with
// node-forge's ASN.1 reader alone (./x509-extensions.ts): 5 ms to load, where
// @peculiar/x509 takes 130 ms and would double the cost of `verify` (see npm run bench).
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { CertEntry, CertInfo, KeyType } from './types.js';
import {
  bytes,
  decode,
  extensionFacts,
  isCtx,
  KNOWN_EXTENSIONS,
  kids,
  oidOf,
  UNIVERSAL,
  type CertFacts,
  type Node,
} from './x509-extensions.js';

const SIG_NAMES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

const factsCache = new WeakMap<X509Certificate, CertFacts>();

function cnOf(name: Node | undefined): string[] {
  const out: string[] = [];
  for (const rdn of kids(name))
    for (const atv of kids(rdn))
      if (oidOf(kids(atv)[0]) === '2.5.4.3')
        out.push(Buffer.from(bytes(kids(atv)[1]), 'binary').toString(kids(atv)[1]?.type === 30 ? 'utf16le' : 'utf8'));
  return out;
}

/** Decode the extension details verify needs. Cached per certificate object. */
export function certFacts(cert: X509Certificate): CertFacts {
  const hit = factsCache.get(cert);
  if (hit) return hit;
  const [tbs, sigAlg] = kids(decode(cert.raw.toString('binary')));
  const t = kids(tbs);
  // TBSCertificate (RFC 5280 §4.1): [0] version (absent for v1), serial, signature, issuer,
  // validity, subject, subjectPublicKeyInfo, then the optional unique IDs and [3] extensions.
  const versioned = t[0] !== undefined && isCtx(t[0], 0);
  const i = versioned ? 1 : 0;
  const sigOid = oidOf(kids(sigAlg)[0]);
  const facts: CertFacts = {
    version: versioned ? Buffer.from(bytes(kids(t[0])[0]), 'binary')[0]! + 1 : 1,
    san: { dns: [], ip: [], email: [], uri: [], other: 0 },
    signatureAlgorithm: SIG_NAMES[sigOid] ?? sigOid,
    unknownCritical: [],
    subjectCN: cnOf(t[i + 4]),
    extensions: [],
    serialBytes: Buffer.from(bytes(t[i]!), 'binary'),
    akiHasIssuerFields: false,
    emptyNameConstraints: false,
  };
  facts.signatureHash = hashOf(facts.signatureAlgorithm);
  const extsWrapper = t.slice(i + 6).find((n) => isCtx(n, 3));
  for (const ext of kids(kids(extsWrapper)[0])) {
    const parts = kids(ext);
    const oid = oidOf(parts[0]);
    const critical = parts.length === 3 && parts[1]!.tagClass === UNIVERSAL && bytes(parts[1]) !== '\x00';
    facts.extensions.push({ oid, critical });
    if (critical && !KNOWN_EXTENSIONS.has(oid)) facts.unknownCritical.push(oid);
    try {
      Object.assign(facts, extensionFacts(oid, bytes(parts[parts.length - 1]), critical, facts.san));
    } catch {
      // A malformed extension: clients reject it, so verify must too.
      facts.unknownCritical.push(`${oid} (malformed)`);
    }
  }
  factsCache.set(cert, facts);
  return facts;
}

function hashOf(name: string): string | undefined {
  const m = /md5|sha1|SHA1|sha256|SHA256|sha384|SHA384|sha512|SHA512/.exec(name);
  if (!m) return name === 'rsassaPss' ? 'PSS' : undefined;
  const v = m[0].toLowerCase();
  return v === 'md5' ? 'MD5' : `SHA-${v.slice(3)}`;
}

/** SHA-256 of the DER, upper-case hex with colons (as `openssl x509 -fingerprint -sha256` prints it). */
export function fingerprint256(der: Buffer | Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export function keyDescription(key: KeyObject): { keyType: KeyType; keyBits?: number; curve?: string } {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'rsa' || t === 'rsa-pss') return { keyType: t, keyBits: d.modulusLength };
  if (t === 'ec') {
    const curve =
      d.namedCurve === 'prime256v1'
        ? 'P-256'
        : d.namedCurve === 'secp384r1'
          ? 'P-384'
          : d.namedCurve === 'secp521r1'
            ? 'P-521'
            : d.namedCurve;
    const bits = curve === 'P-256' ? 256 : curve === 'P-384' ? 384 : curve === 'P-521' ? 521 : undefined;
    return { keyType: 'ecdsa', keyBits: bits, curve };
  }
  if (t === 'ed25519' || t === 'ed448') return { keyType: t };
  return { keyType: 'other' };
}

/** Does this private (or public) key belong to this certificate? Compares the SubjectPublicKeyInfo. */
export function keyMatchesCert(key: KeyObject, cert: X509Certificate): boolean {
  // createPublicKey() refuses a KeyObject that is already public.
  const a = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'der', type: 'spki' });
  const b = cert.publicKey.export({ format: 'der', type: 'spki' });
  return a.equals(b);
}

const DAY_MS = 86_400_000;

/** The printable facts of one certificate; `daysLeft` counts from `at` (default now). */
export function describeCert(input: X509Certificate | CertEntry, at: Date = new Date()): CertInfo {
  const cert = input instanceof X509Certificate ? input : input.cert;
  const facts = certFacts(cert);
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  const k = keyDescription(cert.publicKey);
  return {
    subject: oneLineName(cert.subject),
    issuer: oneLineName(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - at.getTime()) / DAY_MS),
    dnsNames: facts.san.dns,
    ipAddresses: facts.san.ip,
    keyType: k.keyType,
    keyBits: k.keyBits,
    curve: k.curve,
    signatureAlgorithm: facts.signatureAlgorithm,
    sha256: fingerprint256(cert.raw),
    eku: facts.eku ?? [],
    isCA: facts.basicConstraints?.ca ?? false,
    pathLen: facts.basicConstraints?.pathLen,
    keyUsage: facts.keyUsage ?? [],
    selfSigned: cert.subject === cert.issuer && safeVerify(cert, cert),
    ski: facts.ski,
    aki: facts.aki,
    source: input instanceof X509Certificate ? undefined : input.source,
  };
}

/** Node prints names one RDN per line; show them comma-separated, most specific first as openssl does. */
export function oneLineName(name: string | undefined): string {
  return (name ?? '').split('\n').filter(Boolean).join(', ');
}

export function safeVerify(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/**
 * A label for messages: "leaf.example.com" (serial 0A1B…). The serial is whole: sequential
 * serials (`openssl ca`) share long prefixes, and a shortened one told two certificates apart
 * as "serial 1831D89C73AA687C…" twice.
 */
export function certLabel(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return `"${cn ?? oneLineName(cert.subject)}" (serial ${cert.serialNumber.toUpperCase()})`;
}
