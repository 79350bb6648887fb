import { canonicalIp, dnsNameMatches, matchHost } from '../../../src/pki/hostname.js';

describe('RFC 6125 DNS matching', () => {
  test.each([
    ['example.com', 'EXAMPLE.com.', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['f*.example.com', 'foo.example.com', false],
    ['*.com', 'example.com', false],
    ['a.*.example.com', 'a.b.example.com', false],
    ['*.example.com', '10.0.0.1', false],
  ])('%s vs %s → %s', (presented, ref, ok) => expect(dnsNameMatches(presented, ref)).toBe(ok));
});

describe('matchHost', () => {
  test('IPs only against IP SANs, normalised (IPv6 forms, IPv4-mapped)', () => {
    expect(matchHost('2001:db8::1', { dns: [], ip: ['2001:0db8:0:0:0:0:0:1'] }).ok).toBe(true);
    expect(matchHost('10.0.0.1', { dns: ['10.0.0.1'], ip: [] }).ok).toBe(false);
    expect(canonicalIp('::ffff:10.0.0.1')).toBe(canonicalIp('::ffff:a00:1'));
  });
  test('no CN fallback when a SAN exists; CN-only certificates are explained', () => {
    expect(matchHost('a.example.com', { dns: ['b.example.com'], ip: [] }, ['a.example.com']).ok).toBe(false);
    const r = matchHost('a.example.com', { dns: [], ip: [] }, ['a.example.com']);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/clients ignore the CN/);
  });
});

describe('more RFC 6125 edges', () => {
  test.each([
    // Case and a trailing dot on either side do not matter.
    ['Tenant.Example.COM.', 'tenant.example.com', true],
    ['*.example.com', 'A.EXAMPLE.COM.', true],
    // The wildcard is the whole left-most label and stands for exactly one non-empty label.
    ['*.example.com', '.example.com', false],
    ['*.*.example.com', 'a.b.example.com', false],
    ['*example.com', 'aexample.com', false],
    ['xn--*.example.com', 'xn--a.example.com', false],
    // Two labels after the wildcard at least: *.co is too broad to honour.
    ['*.co', 'example.co', false],
    ['*.example.com', '192.0.2.1', false],
  ])('%s vs %s → %s', (presented, ref, ok) => expect(dnsNameMatches(presented, ref)).toBe(ok));

  test.each([
    ['2001:DB8::1', '2001:db8:0:0:0:0:0:1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['192.0.2.1', '192.0.2.1'],
  ])('IP %s equals IP SAN %s', (host, san) => expect(matchHost(host, { dns: [], ip: [san] }).ok).toBe(true));

  test('an IP never matches a DNS SAN, even a wildcard, and a name never matches an IP SAN', () => {
    expect(matchHost('192.0.2.1', { dns: ['*.0.2.1', '192.0.2.1'], ip: [] }).ok).toBe(false);
    expect(matchHost('192.0.2.1', { dns: [], ip: ['192.0.2.2'] }).detail).toBe('IP SANs are 192.0.2.2');
    expect(matchHost('one.example', { dns: [], ip: ['192.0.2.1'] }).detail).toBe('the certificate has no DNS SAN');
  });

  test('a Unicode host is compared in its A-label form', () => {
    expect(matchHost('bücher.example', { dns: ['xn--bcher-kva.example'], ip: [] })).toEqual({
      ok: true,
      detail: 'DNS SAN xn--bcher-kva.example',
    });
    expect(matchHost('büchers.example', { dns: ['xn--bcher-kva.example'], ip: [] }).ok).toBe(false);
  });
});
