import { certificatesFromHandshake, expandEndpoints, parsePorts } from '../../../src/net/probe.js';
import { UsageError } from '../../../src/errors.js';

test('parsePorts: lists, ranges, de-duplication, and one-line errors', () => {
  expect(parsePorts('443,18501-18503, 443')).toEqual([443, 18501, 18502, 18503]);
  expect(() => parsePorts('18510-18501')).toThrow(/reversed/);
  expect(() => parsePorts('https')).toThrow(UsageError);
  expect(() => parsePorts('1-5000')).toThrow(/more than 1000/);
});

test('expandEndpoints: explicit ports win; IPv6 in brackets or bare', () => {
  expect(expandEndpoints(['a.example:8443', 'b.example', '[::1]:443', '::1'], [443, 18501])).toEqual([
    { host: 'a.example', port: 8443 },
    { host: 'b.example', port: 443 },
    { host: 'b.example', port: 18501 },
    { host: '::1', port: 443 },
    { host: '::1', port: 443 },
    { host: '::1', port: 18501 },
  ]);
});

test('certificatesFromHandshake reads the Certificate message across records, in sent order', () => {
  const c1 = Buffer.from('first-cert');
  const c2 = Buffer.from('second');
  const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  const list = Buffer.concat([u24(c1.length), c1, u24(c2.length), c2]);
  const certMsg = Buffer.concat([Buffer.from([11]), u24(list.length + 3), u24(list.length), list]);
  const serverHello = Buffer.concat([Buffer.from([2]), u24(4), Buffer.from('helo')]);
  const hs = Buffer.concat([serverHello, certMsg]);
  // Split the handshake bytes over two records, as servers do.
  const rec = (b: Buffer) => Buffer.concat([Buffer.from([22, 3, 3, b.length >> 8, b.length & 0xff]), b]);
  const bytes = Buffer.concat([rec(hs.subarray(0, 10)), rec(hs.subarray(10))]);
  expect(certificatesFromHandshake(bytes)!.map((b) => b.toString())).toEqual(['first-cert', 'second']);
  expect(certificatesFromHandshake(rec(serverHello))).toBeUndefined();
});
