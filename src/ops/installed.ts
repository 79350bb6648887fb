// What a secret's tls.crt holds, read one way everywhere (transaction, renew, status, requests):
// its leaf is the first certificate. A small module: the verify path loads it too.
import { X509Certificate } from 'node:crypto';

const FIRST_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;

/** The facts of a certificate the plan and the messages use; names lower-case, DNS and IP SANs. */
export function leafFacts(c: X509Certificate): { fingerprint: string; notAfter: string; names: string[] } {
  const names = (c.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^DNS:|^IP Address:/, '').toLowerCase());
  return { fingerprint: c.fingerprint256, notAfter: new Date(c.validTo).toISOString(), names };
}

export function fingerprintOfPem(pem: string): { fingerprint: string; notAfter: string; names: string[] } | undefined {
  const m = FIRST_CERT.exec(pem);
  if (!m) return undefined;
  try {
    return leafFacts(new X509Certificate(m[0]));
  } catch {
    return undefined;
  }
}

/** The leaf (first certificate) of a secret's tls.crt, or undefined when it holds none that parses. */
export function installedLeaf(s: { data?: Record<string, string> } | undefined): X509Certificate | undefined {
  const crt = s?.data?.['tls.crt'];
  const m = crt ? FIRST_CERT.exec(Buffer.from(crt, 'base64').toString('latin1')) : null;
  try {
    return m ? new X509Certificate(m[0]) : undefined;
  } catch {
    return undefined;
  }
}
