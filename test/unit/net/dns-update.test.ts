// The RFC 2136 UPDATE encoding and the TSIG key file reader (the exchange itself runs against
// BIND in test/e2e/acme.test.ts).
import { createHmac } from 'node:crypto';
import { encodeUpdate, parseServer, parseTsigKeyFile, signTsig } from '../../../src/net/dns-update.js';

const KEY =
  'key "acme-update" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";\n};\n';

test('a tsig-keygen key file is read; other algorithms and garbage are refused by file name', () => {
  const k = parseTsigKeyFile(KEY, 'k.key');
  expect(k).toMatchObject({ name: 'acme-update', algorithm: 'hmac-sha256' });
  expect(k.secret.toString()).toBe('secret-secret-secret-secret-32b');
  expect(() => parseTsigKeyFile(KEY.replace('hmac-sha256', 'hmac-md5'), 'k.key')).toThrow(
    /k\.key: TSIG algorithm hmac-md5 is not supported/,
  );
  expect(() => parseTsigKeyFile('garbage', 'g.key')).toThrow(/g\.key: not a TSIG key file/);
});

test('UPDATE: opcode 5, the zone as SOA IN, an add with class IN and a delete with class NONE, TTL 0', () => {
  const m = encodeUpdate(0x1234, 'xsoar.test', [
    { action: 'add', name: '_acme-challenge.a.xsoar.test', value: 'v1' },
    { action: 'delete', name: '_acme-challenge.a.xsoar.test', value: 'v1' },
  ]);
  expect(m.readUInt16BE(0)).toBe(0x1234);
  expect((m.readUInt16BE(2) >> 11) & 0xf).toBe(5);
  expect([m.readUInt16BE(4), m.readUInt16BE(6), m.readUInt16BE(8), m.readUInt16BE(10)]).toEqual([1, 0, 2, 0]);
  const name = Buffer.from('\x0f_acme-challenge\x01a\x05xsoar\x04test\x00', 'latin1');
  const first = m.indexOf(name);
  const second = m.indexOf(name, first + 1);
  expect(m.readUInt16BE(first + name.length + 2)).toBe(1); // IN
  expect(m.readUInt32BE(first + name.length + 4)).toBe(60);
  expect(m.readUInt16BE(second + name.length + 2)).toBe(254); // NONE
  expect(m.readUInt32BE(second + name.length + 4)).toBe(0);
});

test('TSIG: the MAC covers the message and the RFC 8945 variables; ARCOUNT grows by one', () => {
  const key = parseTsigKeyFile(KEY, 'k.key');
  const msg = encodeUpdate(7, 'xsoar.test', [{ action: 'add', name: 'x.xsoar.test', value: 'v' }]);
  const now = new Date(1_700_000_000_000);
  const signed = signTsig(msg, key, now);
  expect(signed.readUInt16BE(10)).toBe(1);
  expect(signed.subarray(0, msg.length).subarray(12).equals(msg.subarray(12))).toBe(true);
  const keyName = Buffer.from('\x0bacme-update\x00', 'latin1');
  const alg = Buffer.from('\x0bhmac-sha256\x00', 'latin1');
  const time = Buffer.from([0, 0, 0x65, 0x53, 0xf1, 0x00]);
  const vars = Buffer.concat([keyName, Buffer.from([0, 255, 0, 0, 0, 0]), alg, time, Buffer.from([1, 44, 0, 0, 0, 0])]);
  const mac = createHmac('sha256', key.secret).update(msg).update(vars).digest();
  expect(signed.includes(mac)).toBe(true);
  // Tampering with one byte of the message changes the MAC.
  const other = Buffer.from(msg);
  other[other.length - 1] ^= 1;
  expect(createHmac('sha256', key.secret).update(other).update(vars).digest().equals(mac)).toBe(false);
});

test('servers parse as HOST[:PORT]; bad ports are refused', () => {
  expect(parseServer('127.0.0.1:5353', '--dns-rfc2136')).toEqual({ host: '127.0.0.1', port: 5353 });
  expect(parseServer('ns1.example.com', '--dns-rfc2136')).toEqual({ host: 'ns1.example.com', port: 53 });
  expect(parseServer('[::1]:53', '--dns-rfc2136')).toEqual({ host: '::1', port: 53 });
  expect(() => parseServer('ns1:99999', '--dns-rfc2136')).toThrow(/--dns-rfc2136 "ns1:99999"/);
});
