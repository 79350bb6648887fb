// Decoders for the certificate fields and extensions Node's X509Certificate does not expose
// (RFC 5280 §4.1, §4.2): key usage bits, path length, key identifiers, name constraints, SANs.
// node-forge's ASN.1 reader alone, strict and whole-input (describe.ts says why not @peculiar/x509).
import forgeAsn1Module from '../cjs/forge-asn1.cjs';

import type { asn1 as Asn1Namespace } from 'node-forge';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
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

export type Node = Asn1Namespace.Asn1;
const forgeAsn1 = (): typeof Asn1Namespace => forgeAsn1Module;

export const UNIVERSAL = 0x00;
const CONTEXT = 0x80;
export const kids = (n: Node | undefined): Node[] => (n && Array.isArray(n.value) ? (n.value as Node[]) : []);
export const bytes = (n: Node | undefined): string => (n && typeof n.value === 'string' ? n.value : '');
const hexOf = (bin: string) => Buffer.from(bin, 'binary').toString('hex').toUpperCase();
export const isCtx = (n: Node, tag: number) => n.tagClass === CONTEXT && n.type === tag;

export function oidOf(n: Node | undefined): string {
  return n ? forgeAsn1().derToOid(bytes(n)) : '';
}

export function decode(der: string): Node {
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

/** `before` with the GeneralNames of `seq` added (RFC 5280 §4.2.1.6); a repeated SAN extension adds to the first. */
function generalNames(seq: Node, before: CertFacts['san']): CertFacts['san'] {
  const san = {
    dns: [...before.dns],
    ip: [...before.ip],
    email: [...before.email],
    uri: [...before.uri],
    other: before.other,
  };
  for (const gn of kids(seq)) {
    if (gn.tagClass !== CONTEXT) continue;
    if (gn.type === 2) san.dns.push(bytes(gn));
    else if (gn.type === 7) san.ip.push(ipText(bytes(gn), false));
    else if (gn.type === 1) san.email.push(bytes(gn));
    else if (gn.type === 6) san.uri.push(bytes(gn));
    else san.other++;
  }
  return san;
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

/**
 * What one extension adds to a certificate's facts; `san` is the subjectAltName so far. Throws on a
 * malformed value (the caller lists the extension as malformed).
 */
export function extensionFacts(
  oid: string,
  value: string,
  critical: boolean,
  san: CertFacts['san'],
): Partial<CertFacts> {
  switch (oid) {
    case '2.5.29.19':
      return { basicConstraints: basicConstraintsOf(value, critical) };
    case '2.5.29.15':
      return { keyUsage: keyUsageNames(bytes(decode(value))) };
    case '2.5.29.37':
      return { eku: kids(decode(value)).map((n) => EKU_NAMES[oidOf(n)] ?? oidOf(n)) };
    case '2.5.29.14':
      return { ski: hexOf(bytes(decode(value))) };
    case '2.5.29.35': {
      const aki = kids(decode(value));
      const keyId = aki.find((n) => isCtx(n, 0));
      return {
        aki: keyId ? hexOf(bytes(keyId)) : undefined,
        akiHasIssuerFields: aki.some((n) => isCtx(n, 1) || isCtx(n, 2)),
      };
    }
    case '2.5.29.17':
      return { san: generalNames(decode(value), san) };
    case '1.3.6.1.5.5.7.1.1':
      // authorityInfoAccess: SEQUENCE OF { accessMethod OID, accessLocation GeneralName }.
      for (const ad of kids(decode(value)))
        if (kids(ad).length !== 2 || kids(ad)[0]!.type !== 6) throw new Error('malformed AIA');
      return {};
    case '2.5.29.30': {
      const n = decodeNameConstraints(value);
      const subtrees =
        n.permittedDNS.length + n.excludedDNS.length + n.permittedIP.length + n.excludedIP.length + n.otherForms.length;
      return { nameConstraints: n, emptyNameConstraints: subtrees === 0 };
    }
    default:
      return {};
  }
}

function basicConstraintsOf(value: string, critical: boolean): CertFacts['basicConstraints'] {
  const bc = kids(decode(value));
  const ca = bc[0]?.type === 1 ? bytes(bc[0]) !== '\x00' : false;
  const lenNode = bc.find((n) => n.type === 2);
  return {
    ca,
    pathLen: lenNode ? Buffer.from(bytes(lenNode), 'binary').reduce((n, b) => n * 256 + b, 0) : undefined,
    critical,
  };
}
