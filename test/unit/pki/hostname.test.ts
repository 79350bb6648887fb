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
