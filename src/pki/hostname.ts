// Host name checks per RFC 6125 as browsers apply them (CA/B Forum BR 7.1.4.2):
// SANs only (no CN fallback when a SAN extension exists), case-insensitive, a trailing
// dot ignored, a wildcard only as the whole left-most label matching exactly one label,
// and IP addresses only against iPAddress SANs.
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { expandIPv6 } from './ip.js';

export function normaliseHost(host: string): string {
  return host
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Canonical text of an IP address (IPv6 fully expanded) so 2001:db8::1 equals 2001:0db8:0:0:0:0:0:1. */
export function canonicalIp(ip: string): string | undefined {
  const a = normaliseHost(ip);
  const fam = isIP(a);
  if (fam === 4)
    return a
      .split('.')
      .map((p) => String(Number(p)))
      .join('.');
  if (fam === 6) {
    const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    let text = a;
    if (v4tail) {
      const p = v4tail[1]!.split('.').map(Number);
      text =
        a.slice(0, -v4tail[1]!.length) +
        `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
    }
    return expandIPv6(text)
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .match(/..../g)!
      .join(':');
  }
  return undefined;
}

/** Does the presented DNS identifier (a SAN, maybe with a wildcard) match the reference host? */
export function dnsNameMatches(presented: string, reference: string): boolean {
  const p = normaliseHost(presented);
  const r = normaliseHost(reference);
  if (!p || !r) return false;
  if (!p.includes('*')) return p === r;
  // Wildcard: exactly "*." + at least two more labels; never partial labels like "f*.example.com".
  const labels = p.split('.');
  if (labels[0] !== '*' || labels.slice(1).some((l) => l.includes('*')) || labels.length < 3) return false;
  const rl = r.split('.');
  if (rl.length !== labels.length) return false;
  if (isIP(r)) return false;
  return rl.slice(1).join('.') === labels.slice(1).join('.') && rl[0]!.length > 0;
}

export interface HostMatch {
  ok: boolean;
  /** The SAN that matched, or why nothing did. */
  detail: string;
}

/** Check `host` against the certificate's SANs. `subjectCNs` are used only when the certificate has no SAN at all. */
export function matchHost(
  host: string,
  san: { dns: string[]; ip: string[] },
  subjectCNs: string[] = [],
  hasSanExtension = san.dns.length + san.ip.length > 0,
): HostMatch {
  // SANs hold IDNs as A-labels (RFC 5280 §7.2): compare "bücher.example" as "xn--bcher-kva.example".
  const typed = normaliseHost(host);
  const ref = /[^\x00-\x7f]/.test(typed) ? domainToASCII(typed) || typed : typed;
  const ip = canonicalIp(ref);
  if (ip) {
    const hit = san.ip.find((s) => canonicalIp(s) === ip);
    return hit
      ? { ok: true, detail: `IP SAN ${hit}` }
      : {
          ok: false,
          detail: san.ip.length ? `IP SANs are ${san.ip.join(', ')}` : 'the certificate has no IP address SAN',
        };
  }
  const hit = san.dns.find((d) => dnsNameMatches(d, ref));
  if (hit) return { ok: true, detail: `DNS SAN ${hit}` };
  if (!hasSanExtension) {
    // RFC 6125 §6.4.4: CN only when there is no SAN at all; browsers no longer do even this.
    const cn = subjectCNs.find((c) => dnsNameMatches(c, ref));
    if (cn)
      return {
        ok: false,
        detail: `only the subject CN "${cn}" matches, and clients ignore the CN: the certificate needs a DNS SAN`,
      };
    return { ok: false, detail: 'the certificate has no subjectAltName' };
  }
  return {
    ok: false,
    detail: san.dns.length ? `DNS SANs are ${san.dns.join(', ')}` : 'the certificate has no DNS SAN',
  };
}

/**
 * A name as it goes into a certificate request, or why a CA will refuse it: public CAs (CA/B
 * Forum BR 3.2.2.6, 7.1.4.2) refuse single-label names and wildcards anywhere but the whole
 * leftmost label; SANs are IA5String, so an internationalised name goes in as its A-label
 * (punycode), and an A-label that does not decode is invalid.
 */
export function requestName(input: string): { name: string; note?: string } | { problem: string } {
  const raw = input.trim().replace(/\.$/, '');
  const bare = raw.replace(/^\[|\]$/g, '');
  if (canonicalIp(bare)) return { name: bare };
  if (raw === 'localhost') return { name: raw };
  let ascii = raw.toLowerCase();
  let note: string | undefined;
  if (/[^\x00-\x7f]/.test(raw)) {
    ascii = domainToASCII(raw.replace(/^\*\./, 'wildcard-placeholder.')).replace(/^wildcard-placeholder\./, '*.');
    if (!ascii) return { problem: `"${input}" is not a valid internationalised domain name` };
    note = `"${input}" is requested as ${ascii} (its ASCII form)`;
  }
  const labels = ascii.split('.');
  if (labels.length < 2)
    return {
      problem:
        `"${input}" is a single-label name: public CAs refuse it; ` +
        `use the fully qualified name (e.g. ${input}.example.com)`,
    };
  if (labels.some((l, i) => l.includes('*') && !(i === 0 && l === '*')))
    return { problem: `"${input}": a wildcard may only be the whole leftmost label (*.example.com)` };
  for (const l of labels) {
    if (l === '*') continue;
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(l))
      return {
        problem:
          `"${input}": the label "${l}" is not a valid DNS label ` + '(letters, digits and inner hyphens, at most 63)',
      };
    if (l.startsWith('xn--') && !domainToUnicode(l))
      return { problem: `"${input}": "${l}" is not a valid internationalised label (bad punycode)` };
  }
  if (ascii.length > 253) return { problem: `"${input}" is longer than a DNS name can be (253)` };
  return { name: ascii, note };
}
