// Facts about certificates and keys for humans and JSON. Node's X509Certificate gives
// the basics; @peculiar/x509 decodes the extensions Node does not expose (key usage bits,
// path length, key identifiers, name constraints, signature algorithm).
import 'reflect-metadata';
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { NameConstraints } from '@peculiar/asn1-x509';
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

const hex = (buf: ArrayBuffer | string) => (typeof buf === 'string' ? buf : Buffer.from(buf).toString('hex')).toUpperCase();

/** Decode the extension details verify needs. Cached per certificate object. */
export function certFacts(cert: X509Certificate): CertFacts {
  const hit = factsCache.get(cert);
  if (hit) return hit;
  const pc = new x509.X509Certificate(cert.raw);
  const facts: CertFacts = {
    version: 3,
    san: { dns: [], ip: [], email: [], uri: [], other: 0 },
    signatureAlgorithm: SIG_NAMES[sigOid(pc)] ?? sigOid(pc),
    unknownCritical: [],
    subjectCN: pc.subjectName.getField('CN'),
    extensions: pc.extensions.map((e) => ({ oid: e.type, critical: e.critical })),
    serialBytes: Buffer.from((pc as unknown as { asn: { tbsCertificate: { serialNumber: ArrayBuffer } } }).asn.tbsCertificate.serialNumber),
    akiHasIssuerFields: false,
    emptyNameConstraints: false,
  };
  facts.signatureHash = hashOf(facts.signatureAlgorithm);
  for (const ext of pc.extensions) {
    if (ext.critical && !KNOWN_EXTENSIONS.has(ext.type)) facts.unknownCritical.push(ext.type);
    if (ext instanceof x509.BasicConstraintsExtension) facts.basicConstraints = { ca: ext.ca, pathLen: ext.pathLength, critical: ext.critical };
    else if (ext instanceof x509.KeyUsagesExtension) facts.keyUsage = keyUsageNames(ext.usages);
    else if (ext instanceof x509.ExtendedKeyUsageExtension) facts.eku = ext.usages.map((u) => EKU_NAMES[String(u)] ?? String(u));
    else if (ext instanceof x509.SubjectKeyIdentifierExtension) facts.ski = hex(ext.keyId);
    else if (ext instanceof x509.AuthorityKeyIdentifierExtension) {
      facts.aki = ext.keyId ? hex(ext.keyId) : undefined;
      facts.akiHasIssuerFields = ext.certId !== undefined;
    }
    else if (ext instanceof x509.SubjectAlternativeNameExtension) {
      for (const n of ext.names.items) {
        if (n.type === 'dns') facts.san.dns.push(n.value);
        else if (n.type === 'ip') facts.san.ip.push(n.value);
        else if (n.type === 'email') facts.san.email.push(n.value);
        else if (n.type === 'url') facts.san.uri.push(n.value);
        else facts.san.other++;
      }
    } else if (ext.type === '2.5.29.30') {
      facts.nameConstraints = decodeNameConstraints(ext.value);
      const n = facts.nameConstraints;
      facts.emptyNameConstraints = n.permittedDNS.length + n.excludedDNS.length + n.permittedIP.length + n.excludedIP.length + n.otherForms.length === 0;
    }
  }
  factsCache.set(cert, facts);
  return facts;
}

function sigOid(pc: x509.X509Certificate): string {
  // @peculiar/x509 exposes the parsed algorithm; the raw OID is in its asn object.
  const alg = (pc as unknown as { asn: { signatureAlgorithm: { algorithm: string } } }).asn.signatureAlgorithm.algorithm;
  return alg;
}

function hashOf(name: string): string | undefined {
  const m = /md5|sha1|SHA1|sha256|SHA256|sha384|SHA384|sha512|SHA512/.exec(name);
  if (!m) return name === 'rsassaPss' ? 'PSS' : undefined;
  const v = m[0].toLowerCase();
  return v === 'md5' ? 'MD5' : `SHA-${v.slice(3)}`;
}

function keyUsageNames(flags: number): string[] {
  const names: string[] = [];
  const table: [number, string][] = [
    [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
    [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
    [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
    [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
    [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
    [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
    [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
    [x509.KeyUsageFlags.encipherOnly, 'encipherOnly'],
    [x509.KeyUsageFlags.decipherOnly, 'decipherOnly'],
  ];
  for (const [f, n] of table) if (flags & f) names.push(n);
  return names;
}

function decodeNameConstraints(value: ArrayBuffer): NameConstraintFacts {
  const nc = AsnConvert.parse(value, NameConstraints);
  const out: NameConstraintFacts = { permittedDNS: [], excludedDNS: [], permittedIP: [], excludedIP: [], otherForms: [] };
  const walk = (subtrees: typeof nc.permittedSubtrees, dns: string[], ip: string[]) => {
    for (const st of subtrees ?? []) {
      const b = st.base;
      if (b.dNSName !== undefined) dns.push(b.dNSName);
      else if (b.iPAddress !== undefined) ip.push(b.iPAddress);
      else out.otherForms.push(b.rfc822Name !== undefined ? 'email' : b.uniformResourceIdentifier !== undefined ? 'uri' : b.directoryName !== undefined ? 'directoryName' : 'other');
    }
  };
  walk(nc.permittedSubtrees, out.permittedDNS, out.permittedIP);
  walk(nc.excludedSubtrees, out.excludedDNS, out.excludedIP);
  return out;
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
    const curve = d.namedCurve === 'prime256v1' ? 'P-256' : d.namedCurve === 'secp384r1' ? 'P-384' : d.namedCurve === 'secp521r1' ? 'P-521' : d.namedCurve;
    const bits = curve === 'P-256' ? 256 : curve === 'P-384' ? 384 : curve === 'P-521' ? 521 : undefined;
    return { keyType: 'ecdsa', keyBits: bits, curve };
  }
  if (t === 'ed25519' || t === 'ed448') return { keyType: t };
  return { keyType: 'other' };
}

/** Does this private (or public) key belong to this certificate? Compares the SubjectPublicKeyInfo. */
export function keyMatchesCert(key: KeyObject, cert: X509Certificate): boolean {
  const a = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const b = cert.publicKey.export({ format: 'der', type: 'spki' });
  return a.equals(b);
}

const DAY_MS = 86_400_000;

/** Split Node's subjectAltName string ("DNS:a, IP Address:1.2.3.4") — used only as a fallback. */
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

/** A short label for messages: "CN=leaf.example.com (serial 0A1B…)". */
export function certLabel(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  const serial = cert.serialNumber.toUpperCase();
  return `"${cn ?? oneLineName(cert.subject)}" (serial ${serial.length > 16 ? serial.slice(0, 16) + '…' : serial})`;
}
