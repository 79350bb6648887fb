// What a secret's tls.crt holds, read one way everywhere (transaction, renew, status, requests):
// its leaf is the first certificate. A small module: the verify path loads it too.
import { X509Certificate } from 'node:crypto';

const FIRST_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;

// A fleet's secrets mostly hold one certificate: parsed once, not twice per tenant (400 ms of a
// 1000-tenant install). X509Certificate objects are immutable, so sharing one is safe.
const parsed = new Map<string, X509Certificate>();
const facts = new WeakMap<X509Certificate, ReturnType<typeof leafFacts>>();

function parse(pem: string): X509Certificate {
  let c = parsed.get(pem);
  if (!c) {
    c = new X509Certificate(pem);
    if (parsed.size >= 64) parsed.delete(parsed.keys().next().value!);
    parsed.set(pem, c);
  }
  return c;
}

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
    const c = parse(m[0]);
    const f = facts.get(c) ?? leafFacts(c);
    facts.set(c, f);
    return { ...f, names: [...f.names] };
  } catch {
    return undefined;
  }
}

/** The leaf (first certificate) of a secret's tls.crt, or undefined when it holds none that parses. */
export function installedLeaf(s: { data?: Record<string, string> } | undefined): X509Certificate | undefined {
  const crt = s?.data?.['tls.crt'];
  const m = crt ? FIRST_CERT.exec(Buffer.from(crt, 'base64').toString('latin1')) : null;
  try {
    return m ? parse(m[0]) : undefined;
  } catch {
    return undefined;
  }
}
