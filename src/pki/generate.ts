// The one certificate-generation module. node-forge cannot create ECDSA certificates,
// so every certificate (RSA and ECDSA) is built with @peculiar/x509 over Node's WebCrypto;
// keys come from Node's crypto and leave this module only as PKCS#8 PEM strings.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName as AsnGeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } from '@peculiar/asn1-x509';
import { newKey, signingAlgorithm, toCryptoKeys, type KeySpec, type SignatureHash } from './keys.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface NameConstraintsSpec {
  permittedDNS?: string[];
  excludedDNS?: string[];
  /** CIDR, e.g. 10.0.0.0/8 or fd00::/8 */
  permittedIP?: string[];
  excludedIP?: string[];
}

export interface CertSpec {
  /** A common name ("example.com") or a full DN ("CN=x, O=y"). */
  subject: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  isCA?: boolean;
  pathLen?: number;
  /**
   * Key usage names; null omits the extension. Default: CA → keyCertSign+cRLSign, leaf →
   * digitalSignature(+keyEncipherment for RSA).
   */
  keyUsage?: string[] | null;
  /**
   * EKU names (serverAuth, clientAuth, ...) or OIDs; null omits the extension. Default: leaf →
   * serverAuth, CA → none.
   */
  eku?: string[] | null;
  notBefore?: Date;
  notAfter?: Date;
  /** Validity in days from notBefore when notAfter is not given (default 397). */
  days?: number;
  /** Serial number as hex (default: 16 random bytes, positive). */
  serial?: string;
  signatureHash?: SignatureHash;
  nameConstraints?: NameConstraintsSpec;
  /** The signer; absent = self-signed. */
  issuer?: { certPem: string; keyPem: string };
  /** The subject's key: a new key of this type (default RSA 2048), or an existing PKCS#8/PKCS#1/SEC1 PEM. */
  key?: KeySpec;
  omitSki?: boolean;
  omitAki?: boolean;
}

export interface IssuedCert {
  certPem: string;
  /** PKCS#8 PEM. Callers write it with mode 0600 and never print it. */
  keyPem: string;
}

const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
};

const KEY_USAGE_FLAGS: Record<string, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
};

const DAY_MS = 86_400_000;

function toDn(subject: string): string {
  return /^[A-Za-z]+=/.test(subject) ? subject : `CN=${subject.replace(/([,+"\\<>;])/g, '\\$1')}`;
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  if (b[0] === 0) b[0] = 0x01; // and no leading zero byte to strip
  return b.toString('hex');
}

function nameConstraintsExtension(nc: NameConstraintsSpec): x509.Extension {
  const subtrees = (dns: string[] = [], ips: string[] = []) => {
    const list = [
      ...dns.map((d) => new GeneralSubtree({ base: new AsnGeneralName({ dNSName: d }) })),
      ...ips.map(
        (ip) =>
          new GeneralSubtree({
            base: new AsnGeneralName({ iPAddress: ip }) /* CIDR text: address + mask bytes, RFC 5280 §4.2.1.10 */,
          }),
      ),
    ];
    return list.length ? new GeneralSubtrees(list) : undefined;
  };
  const value = new NameConstraints({
    permittedSubtrees: subtrees(nc.permittedDNS, nc.permittedIP),
    excludedSubtrees: subtrees(nc.excludedDNS, nc.excludedIP),
  });
  return new x509.Extension('2.5.29.30', true, AsnConvert.serialize(value));
}

/** Mint one certificate. Pure apart from randomness: nothing is written anywhere. */
export async function issueCertificate(spec: CertSpec): Promise<IssuedCert> {
  const hash = spec.signatureHash ?? 'SHA-256';
  const subjectKey = await newKey(spec.key);
  const subjectKeys = await toCryptoKeys(subjectKey, hash);
  const issuerKey = spec.issuer ? createPrivateKey(spec.issuer.keyPem) : subjectKey;
  const issuerKeys = spec.issuer ? await toCryptoKeys(issuerKey, hash) : subjectKeys;
  const issuerCert = spec.issuer ? new x509.X509Certificate(spec.issuer.certPem) : undefined;

  const notBefore = spec.notBefore ?? new Date(Date.now() - 60_000); // a minute of clock skew
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + (spec.days ?? 397) * DAY_MS);
  const extensions = [
    ...usageExtensions(spec, subjectKey),
    ...nameExtensions(spec),
    ...(await keyIdExtensions(spec, subjectKeys.publicKey, issuerCert, issuerKeys.publicKey)),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial ?? randomSerial(),
    subject: toDn(spec.subject),
    issuer: issuerCert ? issuerCert.subject : toDn(spec.subject),
    notBefore,
    notAfter,
    signingAlgorithm: signingAlgorithm(issuerKey, hash),
    publicKey: subjectKeys.publicKey,
    signingKey: issuerKeys.privateKey,
    extensions,
  });
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: subjectKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** basicConstraints (always, critical), keyUsage (critical) and extendedKeyUsage, from the spec or the defaults. */
function usageExtensions(spec: CertSpec, subjectKey: KeyObject): x509.Extension[] {
  const isCA = Boolean(spec.isCA);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(isCA, isCA ? spec.pathLen : undefined, true),
  ];
  const usageNames =
    spec.keyUsage === undefined
      ? isCA
        ? ['keyCertSign', 'cRLSign']
        : subjectKey.asymmetricKeyType === 'rsa'
          ? ['digitalSignature', 'keyEncipherment']
          : ['digitalSignature']
      : spec.keyUsage;
  if (usageNames) {
    const flags = usageNames.reduce((acc, n) => {
      const f = KEY_USAGE_FLAGS[n];
      if (f === undefined) throw new Error(`unknown key usage "${n}"`);
      return acc | f;
    }, 0);
    extensions.push(new x509.KeyUsagesExtension(flags, true));
  }
  const ekuNames = spec.eku === undefined ? (isCA ? null : ['serverAuth']) : spec.eku;
  if (ekuNames)
    extensions.push(
      new x509.ExtendedKeyUsageExtension(
        ekuNames.map((n) => EKU_OIDS[n] ?? n),
        false,
      ),
    );
  return extensions;
}

/** subjectAltName (DNS and IP) and nameConstraints, when the spec has them. */
function nameExtensions(spec: CertSpec): x509.Extension[] {
  const extensions: x509.Extension[] = [];
  const sans = [
    ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (sans.length) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  if (spec.nameConstraints) extensions.push(nameConstraintsExtension(spec.nameConstraints));
  return extensions;
}

/**
 * subjectKeyIdentifier, and authorityKeyIdentifier: the issuer's SKI when it has one, else one
 * computed from its key; a self-signed CA gets none (RFC 5280 §4.2.1.1 allows omitting it there).
 */
async function keyIdExtensions(
  spec: CertSpec,
  subjectPublicKey: webcrypto.CryptoKey,
  issuerCert: x509.X509Certificate | undefined,
  issuerPublicKey: webcrypto.CryptoKey,
): Promise<x509.Extension[]> {
  const extensions: x509.Extension[] = [];
  if (!spec.omitSki) extensions.push(await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey));
  if (spec.omitAki) return extensions;
  if (issuerCert) {
    const ski = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
    if (ski) extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
    else extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey));
  } else if (!spec.isCA) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(subjectPublicKey));
  }
  return extensions;
}

export type DevKeyOptions = { keyType?: 'rsa' | 'ecdsa'; bits?: number; curve?: 'P-256' | 'P-384' };

function keySpecFrom(o: DevKeyOptions): KeySpec {
  return o.keyType === 'ecdsa' ? { type: 'ecdsa', curve: o.curve ?? 'P-256' } : { type: 'rsa', bits: o.bits ?? 2048 };
}

/** A development CA, mkcert style: 10 years, pathLen 0, keyCertSign + cRLSign. */
export async function generateDevCA(opts: DevKeyOptions & { name?: string; days?: number } = {}): Promise<IssuedCert> {
  // mkcert names its CA after user@host, so two developers' CAs are told apart in a trust store.
  const who = process.env.USER ?? process.env.LOGNAME ?? 'dev';
  return issueCertificate({
    subject: `CN=${opts.name ?? `xsoar-cert development CA (${who})`}, O=xsoar-cert development CA`,
    isCA: true,
    pathLen: 0,
    days: opts.days ?? 3650,
    key: keySpecFrom(opts),
  });
}

/** Split host arguments into DNS names and IP addresses (IPs go in iPAddress SANs, never dNSName). */
export function splitHosts(hosts: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const h of hosts) {
    const bare = h.replace(/^\[|\]$/g, '');
    if (isIP(bare)) ipAddresses.push(bare);
    else dnsNames.push(h.toLowerCase());
  }
  return { dnsNames, ipAddresses };
}

/**
 * A development server certificate: serverAuth, CA:FALSE, SANs for every host.
 * 397 days by default, under the 398-day limit browsers enforce (CA/B Forum BR 6.3.2).
 */
export async function generateDevLeaf(
  opts: DevKeyOptions & { hosts: string[]; days?: number; issuer?: { certPem: string; keyPem: string } },
): Promise<IssuedCert> {
  if (opts.hosts.length === 0) throw new Error('at least one host is needed');
  const { dnsNames, ipAddresses } = splitHosts(opts.hosts);
  return issueCertificate({
    subject: opts.hosts[0]!,
    dnsNames,
    ipAddresses,
    days: opts.days ?? 397,
    key: keySpecFrom(opts),
    issuer: opts.issuer,
  });
}

export interface CsrSpec {
  /** The names the certificate must cover: the first is the CN, every one a SAN (DNS or IP). */
  hosts: string[];
  /** More of the subject, e.g. "O=Example Corp, OU=SecOps, L=Berlin, C=DE" (CN comes from the first host). */
  subject?: string;
  key?: KeySpec;
}

export interface NewRequest {
  /** PKCS#10 PEM ("BEGIN CERTIFICATE REQUEST"). */
  csrPem: string;
  /** PKCS#8 PEM. The caller keeps it 0600 and never prints it. */
  keyPem: string;
}

/**
 * A PKCS#10 request signed with SHA-256 (what `openssl req -newkey … -addext subjectAltName=…`
 * makes): CN = the first host, every host a SAN in the extensionRequest attribute.
 */
export async function generateCsr(spec: CsrSpec): Promise<NewRequest> {
  if (spec.hosts.length === 0) throw new Error('at least one host is needed');
  const key = await newKey(spec.key);
  const keys = await toCryptoKeys(key, 'SHA-256');
  const { dnsNames, ipAddresses } = splitHosts(spec.hosts);
  const sans = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cn = `CN=${spec.hosts[0]!.replace(/^\[|\]$/g, '').replace(/([,+"\\<>;=])/g, '\\$1')}`;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: spec.subject ? `${cn}, ${spec.subject}` : cn,
    keys,
    signingAlgorithm: signingAlgorithm(key, 'SHA-256'),
    extensions: [new x509.SubjectAlternativeNameExtension(sans, false)],
  });
  return { csrPem: csr.toString('pem') + '\n', keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

export interface CsrInfo {
  subject: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** The request's own signature verifies with its public key. */
  signatureValid: boolean;
  /** DER SubjectPublicKeyInfo, to match a certificate or a key. */
  spki: Buffer;
  signatureAlgorithm: string;
}

/** Read a PKCS#10 request (PEM or DER). Throws on anything else. */
export async function readCsr(der: Buffer): Promise<CsrInfo> {
  const req = new x509.Pkcs10CertificateRequest(der);
  const san = req.extensions.find(
    (e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension,
  );
  const names: { type: string; value: string }[] = san?.names.toJSON() ?? [];
  return {
    subject: req.subject,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    signatureValid: await req.verify(),
    spki: Buffer.from(req.publicKey.rawData),
    signatureAlgorithm:
      (req.signatureAlgorithm as { name?: string; hash?: { name?: string } }).name +
      ((req.signatureAlgorithm as { hash?: { name?: string } }).hash?.name
        ? ` ${(req.signatureAlgorithm as { hash: { name: string } }).hash.name}`
        : ''),
  };
}
