// A certificate signed with MD5, for the tests that need one a client must reject (lint,
// describe). WebCrypto has no MD5, so the certificate is minted with SHA-256 and re-signed here.
import { X509Certificate, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { issueCertificate, type CertSpec, type IssuedCert } from '../../src/pki/generate.js';

// sha256WithRSAEncryption and md5WithRSAEncryption differ in the last OID byte only, and an
// RSA signature is as long as the modulus whatever the hash, so the swap keeps every length.
const SHA256_RSA_OID = Buffer.from('06092a864886f70d01010b', 'hex');
const MD5_RSA_OID = Buffer.from('06092a864886f70d010104', 'hex');

/** issueCertificate, then the signature replaced by an md5WithRSAEncryption one (RSA issuers only). */
export async function issueMd5Certificate(spec: Omit<CertSpec, 'signatureHash'>): Promise<IssuedCert> {
  const issued = await issueCertificate({ ...spec, signatureHash: 'SHA-256' });
  const issuerKey = createPrivateKey(spec.issuer ? spec.issuer.keyPem : issued.keyPem);
  const der = resignWithMd5(new X509Certificate(issued.certPem).raw, issuerKey);
  return { certPem: toPem(der), keyPem: issued.keyPem };
}

function resignWithMd5(der: Buffer, issuerKey: KeyObject): Buffer {
  if (issuerKey.asymmetricKeyType !== 'rsa') throw new Error('MD5 signatures are only defined for RSA issuers');
  const out = Buffer.from(der);
  // The OID appears twice: TBSCertificate.signature and Certificate.signatureAlgorithm.
  for (let at = out.indexOf(SHA256_RSA_OID); at >= 0; at = out.indexOf(SHA256_RSA_OID, at + 1))
    MD5_RSA_OID.copy(out, at);
  const tbsStart = headerLength(out, 0);
  const tbsEnd = tbsStart + headerLength(out, tbsStart) + contentLength(out, tbsStart);
  const sig = sign('md5', out.subarray(tbsStart, tbsEnd), issuerKey);
  sig.copy(out, out.length - sig.length); // the BIT STRING's content ends the certificate
  return out;
}

function headerLength(b: Buffer, at: number): number {
  const first = b[at + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(b: Buffer, at: number): number {
  const first = b[at + 1]!;
  if (first < 0x80) return first;
  let len = 0;
  for (let i = 0; i < (first & 0x7f); i++) len = len * 256 + b[at + 2 + i]!;
  return len;
}

function toPem(der: Buffer): string {
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}
