// The system trust store, for verify without --ca: Node's bundled Mozilla roots plus the
// distribution bundle (Debian's ca-certificates), where enterprise roots are usually added.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { CertEntry } from './types.js';

const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

let cached: CertEntry[] | undefined;

export function systemAnchors(): CertEntry[] {
  if (cached) return cached;
  const pems = new Set<string>(rootCertificates);
  for (const f of [process.env.SSL_CERT_FILE, ...SYSTEM_BUNDLES]) {
    if (!f) continue;
    try {
      for (const m of readFileSync(f, 'latin1').matchAll(
        /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
      ))
        pems.add(m[0]);
    } catch {
      /* not on this system */
    }
  }
  const out: CertEntry[] = [];
  for (const pem of pems) {
    try {
      const cert = new X509Certificate(pem);
      out.push({ cert, der: cert.raw, source: 'the system trust store', index: out.length });
    } catch {
      /* a malformed system root is skipped, as OpenSSL does */
    }
  }
  cached = out;
  return out;
}
