// Name constraints (RFC 5280 §4.2.1.10): a CA's permitted and excluded DNS names and IP
// ranges, applied to the names of every certificate below it.
import { certFacts, certLabel } from './describe.js';
import { normaliseHost } from './hostname.js';
import { ipInCidr } from './ip.js';
import type { CertEntry } from './types.js';

/**
 * Why `subject` breaks the name constraints of `ca` (RFC 5280 §4.2.1.10, §6.1.3 b), or undefined
 * when it does not.
 */
export function nameConstraintProblem(ca: CertEntry, subject: CertEntry): string | undefined {
  const nc = certFacts(ca.cert).nameConstraints;
  if (!nc) return undefined;
  const f = certFacts(subject.cert);
  // Denial-of-service guard (x509-limbo pathological::nc-dos-*): refuse absurd constraint work.
  const work =
    (nc.permittedDNS.length +
      nc.excludedDNS.length +
      nc.permittedIP.length +
      nc.excludedIP.length +
      nc.otherForms.length) *
    (f.san.dns.length + f.san.ip.length + 1);
  if (work > 65536)
    return (
      `the name constraints of ${certLabel(ca.cert)} and the names of this certificate are too many to check ` +
      `(${work} comparisons)`
    );
  const inDns = (name: string, base: string) => {
    const n = normaliseHost(name).replace(/^\*\./, 'wildcard.');
    const b = normaliseHost(base);
    if (b === '') return true;
    if (b.startsWith('.')) return n.endsWith(b);
    return n === b || n.endsWith('.' + b);
  };
  // A wildcard SAN *.S stands for every one-label name under S, so it also clashes with an
  // excluded x.S (x509-limbo nc-forbids-dnsname-wildcard-san, CVE-2025-61727): a client would
  // accept bar.example.com under *.example.com although bar.example.com is excluded.
  const wildcardCovers = (name: string, base: string) => {
    const n = normaliseHost(name);
    const b = normaliseHost(base).replace(/^\./, '');
    if (!n.startsWith('*.') || !b) return false;
    const suffix = n.slice(1); // ".S"
    return b.endsWith(suffix) && !b.slice(0, -suffix.length).includes('.') && b.length > suffix.length;
  };
  for (const d of f.san.dns) {
    if (nc.excludedDNS.some((b) => inDns(d, b) || wildcardCovers(d, b)))
      return `DNS name ${d} is excluded by the name constraints of ${certLabel(ca.cert)}`;
    if (nc.permittedDNS.length && !nc.permittedDNS.some((b) => inDns(d, b)))
      return `DNS name ${d} is outside the permitted names (${nc.permittedDNS.join(', ')}) of ${certLabel(ca.cert)}`;
  }
  for (const ip of f.san.ip) {
    if (nc.excludedIP.some((c) => ipInCidr(ip, c)))
      return `IP ${ip} is excluded by the name constraints of ${certLabel(ca.cert)}`;
    const sameFamily = nc.permittedIP.filter((c) => c.includes(':') === ip.includes(':'));
    if (nc.permittedIP.length && !sameFamily.some((c) => ipInCidr(ip, c)))
      return `IP ${ip} is outside the permitted ranges (${nc.permittedIP.join(', ')}) of ${certLabel(ca.cert)}`;
  }
  // Without SANs, RFC 5280 applies DNS constraints to nothing; a CN that looks like a host
  // would still be matched by clients that use it, so apply DNS constraints to it too.
  if (f.san.dns.length === 0 && f.san.ip.length === 0) {
    for (const cn of f.subjectCN) {
      if (!/^[a-z0-9*.-]+\.[a-z]{2,}$/i.test(cn)) continue;
      if (
        nc.excludedDNS.some((b) => inDns(cn, b)) ||
        (nc.permittedDNS.length && !nc.permittedDNS.some((b) => inDns(cn, b)))
      ) {
        return `subject CN ${cn} violates the name constraints of ${certLabel(ca.cert)}`;
      }
    }
  }
  return undefined;
}
