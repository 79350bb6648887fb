// IPv6 text → 16 bytes. Shared by generation (name constraints) and host matching;
// kept apart from generate.ts so host checks do not load the certificate builder.
export function expandIPv6(addr: string): number[] {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':').filter(Boolean) : [];
  const t = tail ? tail.split(':').filter(Boolean) : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [(v >> 8) & 0xff, v & 0xff];
  });
}

/** Address bytes for IPv4 or IPv6 text, or undefined. */
export function ipBytes(ip: string): number[] | undefined {
  const a = ip.replace(/^\[|\]$/g, '');
  if (/^\d+\.\d+\.\d+\.\d+$/.test(a)) {
    const p = a.split('.').map(Number);
    return p.every((n) => n >= 0 && n <= 255) ? p : undefined;
  }
  if (a.includes(':')) return expandIPv6(a);
  return undefined;
}

/** Is `ip` inside `cidr` (same address family only)? */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, lenText] = cidr.split('/');
  const a = ipBytes(ip);
  const b = ipBytes(base ?? '');
  if (!a || !b || a.length !== b.length) return false;
  const len = lenText === undefined ? a.length * 8 : Number(lenText);
  for (let i = 0; i < a.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (b[i]! & mask)) return false;
  }
  return true;
}
