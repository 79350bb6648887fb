// Facts about certificates and keys for humans and JSON. Node's X509Certificate gives
// the basics; the extensions Node does not expose (key usage bits, path length, key
// identifiers, name constraints, signature algorithm) are read from the DER with
// node-forge's ASN.1 reader alone: 5 ms to load, where @peculiar/x509 takes 130 ms
// and would double the cost of `verify` (see npm run bench).
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import forgeAsn1Module from '../cjs/forge-asn1.cjs';

import type { asn1 as Asn1Namespace } from 'node-forge';
import type { CertEntry, CertInfo, KeyType } from './types.js';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

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

/** Extensions every RFC 5280 verifier here understands; any other critical one is rejected by verify. */
export const KNOWN_EXTENSIONS = new Set([
  '2.5.29.19', // basicConstraints
  '2.5.29.15', // keyUsage
  '2.5.29.37', // extKeyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.30', // nameConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.31', // cRLDistributionPoints
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
  '2.5.29.18', // issuerAltName
  '1.3.6.1.4.1.11129.2.4.2', // CT precertificate SCTs
]);

export interface NameConstraintFacts {
  permittedDNS: string[];
  excludedDNS: string[];
  /** CIDR text */
  permittedIP: string[];
  excludedIP: string[];
  /** Other name forms present (email, URI, directoryName): verify treats them conservatively. */
  otherForms: string[];
}

export interface CertFacts {
  version: number;
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  keyUsage?: string[];
  eku?: string[];
  ski?: string;
  aki?: string;
  nameConstraints?: NameConstraintFacts;
  san: { dns: string[]; ip: string[]; email: string[]; uri: string[]; other: number };
  signatureAlgorithm: string;
  /** 'MD5' | 'SHA-1' | 'SHA-256' | ... | undefined (EdDSA) */
  signatureHash?: string;
  unknownCritical: string[];
  subjectCN: string[];
  /** Every extension OID with its criticality, in order (duplicates kept). */
  extensions: { oid: string; critical: boolean }[];
  /** Raw serial bytes as encoded. */
  serialBytes: Buffer;
  /** The AKI extension also carries authorityCertIssuer / serial (webpki forbids these). */
  akiHasIssuerFields: boolean;
  /** Name constraints with neither permitted nor excluded subtrees. */
  emptyNameConstraints: boolean;
}

const factsCache = new WeakMap<X509Certificate, CertFacts>();

type Node = Asn1Namespace.Asn1;
const forgeAsn1 = (): typeof Asn1Namespace => forgeAsn1Module;

const UNIVERSAL = 0x00;
const CONTEXT = 0x80;
const kids = (n: Node | undefined): Node[] => (n && Array.isArray(n.value) ? (n.value as Node[]) : []);
const bytes = (n: Node | undefined): string => (n && typeof n.value === 'string' ? n.value : '');
const hexOf = (bin: string) => Buffer.from(bin, 'binary').toString('hex').toUpperCase();
const isCtx = (n: Node, tag: number) => n.tagClass === CONTEXT && n.type === tag;

function oidOf(n: Node | undefined): string {
  return n ? forgeAsn1().derToOid(bytes(n)) : '';
}

function decode(der: string): Node {
  return forgeAsn1().fromDer(der, { strict: true, decodeBitStrings: false, parseAllBytes: true } as unknown as boolean);
}

/** iPAddress GeneralName: 4/16 bytes in a SAN, 8/32 (address + mask) in a name constraint. */
function ipText(bin: string, withMask: boolean): string {
  const b = Buffer.from(bin, 'binary');
  const half = withMask ? b.length / 2 : b.length;
  const addr = b.subarray(0, half);
  const text =
    addr.length === 4
      ? [...addr].join('.')
      : addr.length === 16
        ? (addr.toString('hex').match(/..../g) ?? []).map((g) => g.replace(/^0+(?=.)/, '')).join(':')
        : `invalid(${b.toString('hex')})`;
  if (!withMask) return addr.length === 16 ? compressV6(text) : text;
  const mask = b.subarray(half);
  const prefix = [...mask].reduce((n, x) => n + (x.toString(2).match(/1/g)?.length ?? 0), 0);
  return `${addr.length === 16 ? compressV6(text) : text}/${prefix}`;
}

function compressV6(full: string): string {
  // RFC 5952: the longest run of zero groups becomes "::".
  const g = full.split(':');
  let best = -1;
  let len = 0;
  for (let i = 0; i < g.length;) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < g.length && g[j] === '0') j++;
    if (j - i > len && j - i > 1) {
      best = i;
      len = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + len).join(':')}`;
}

function generalNames(seq: Node, into: CertFacts['san']): void {
  for (const gn of kids(seq)) {
    if (gn.tagClass !== CONTEXT) continue;
    if (gn.type === 2) into.dns.push(bytes(gn));
    else if (gn.type === 7) into.ip.push(ipText(bytes(gn), false));
    else if (gn.type === 1) into.email.push(bytes(gn));
    else if (gn.type === 6) into.uri.push(bytes(gn));
    else into.other++;
  }
}

const KU_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

function keyUsageNames(bitString: string): string[] {
  // BIT STRING: first byte = unused bits; bit 0 is the most significant bit of the next byte.
  const b = Buffer.from(bitString, 'binary').subarray(1);
  return KU_NAMES.filter((_, i) => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
}

function decodeNameConstraints(value: string): NameConstraintFacts {
  const out: NameConstraintFacts = {
    permittedDNS: [],
    excludedDNS: [],
    permittedIP: [],
    excludedIP: [],
    otherForms: [],
  };
  for (const part of kids(decode(value))) {
    const permitted = isCtx(part, 0);
    for (const subtree of kids(part)) {
      const base = kids(subtree)[0];
      if (!base || base.tagClass !== CONTEXT) continue;
      if (base.type === 2) (permitted ? out.permittedDNS : out.excludedDNS).push(bytes(base));
      else if (base.type === 7) (permitted ? out.permittedIP : out.excludedIP).push(ipText(bytes(base), true));
      else
        out.otherForms.push(
          base.type === 1 ? 'email' : base.type === 6 ? 'uri' : base.type === 4 ? 'directoryName' : 'other',
        );
    }
  }
  return out;
}

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
  const root = decode(cert.raw.toString('binary'));
  const [tbs, sigAlg] = kids(root);
  const t = kids(tbs);
  let i = 0;
  let version = 1;
  if (t[0] && isCtx(t[0], 0)) {
    version = Buffer.from(bytes(kids(t[0])[0]), 'binary')[0]! + 1;
    i = 1;
  }
  const serial = t[i]!;
  const subject = t[i + 4];
  const sigOid = oidOf(kids(sigAlg)[0]);
  const facts: CertFacts = {
    version,
    san: { dns: [], ip: [], email: [], uri: [], other: 0 },
    signatureAlgorithm: SIG_NAMES[sigOid] ?? sigOid,
    unknownCritical: [],
    subjectCN: cnOf(subject),
    extensions: [],
    serialBytes: Buffer.from(bytes(serial), 'binary'),
    akiHasIssuerFields: false,
    emptyNameConstraints: false,
  };
  facts.signatureHash = hashOf(facts.signatureAlgorithm);
  const extsWrapper = t.slice(i + 6).find((n) => isCtx(n, 3));
  for (const ext of kids(kids(extsWrapper)[0])) {
    const parts = kids(ext);
    const oid = oidOf(parts[0]);
    const critical = parts.length === 3 && parts[1]!.tagClass === UNIVERSAL && bytes(parts[1]) !== '\x00';
    const value = bytes(parts[parts.length - 1]);
    facts.extensions.push({ oid, critical });
    if (critical && !KNOWN_EXTENSIONS.has(oid)) facts.unknownCritical.push(oid);
    try {
      if (oid === '2.5.29.19') {
        const bc = kids(decode(value));
        const ca = bc[0]?.type === 1 ? bytes(bc[0]) !== '\x00' : false;
        const lenNode = bc.find((n) => n.type === 2);
        facts.basicConstraints = {
          ca,
          pathLen: lenNode ? Buffer.from(bytes(lenNode), 'binary').reduce((n, b) => n * 256 + b, 0) : undefined,
          critical,
        };
      } else if (oid === '2.5.29.15') facts.keyUsage = keyUsageNames(bytes(decode(value)));
      else if (oid === '2.5.29.37') facts.eku = kids(decode(value)).map((n) => EKU_NAMES[oidOf(n)] ?? oidOf(n));
      else if (oid === '2.5.29.14') facts.ski = hexOf(bytes(decode(value)));
      else if (oid === '2.5.29.35') {
        const aki = kids(decode(value));
        const keyId = aki.find((n) => isCtx(n, 0));
        facts.aki = keyId ? hexOf(bytes(keyId)) : undefined;
        facts.akiHasIssuerFields = aki.some((n) => isCtx(n, 1) || isCtx(n, 2));
      } else if (oid === '2.5.29.17') generalNames(decode(value), facts.san);
      else if (oid === '1.3.6.1.5.5.7.1.1') {
        // authorityInfoAccess: SEQUENCE OF { accessMethod OID, accessLocation GeneralName }.
        for (const ad of kids(decode(value)))
          if (kids(ad).length !== 2 || kids(ad)[0]!.type !== 6) throw new Error('malformed AIA');
      } else if (oid === '2.5.29.30') {
        facts.nameConstraints = decodeNameConstraints(value);
        const n = facts.nameConstraints;
        facts.emptyNameConstraints =
          n.permittedDNS.length +
            n.excludedDNS.length +
            n.permittedIP.length +
            n.excludedIP.length +
            n.otherForms.length ===
          0;
      }
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
