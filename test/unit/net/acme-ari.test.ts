// RFC 9773 (ARI) certificate identifiers, on the RFC's own example (section 4.1), and the
// challenge choice from the flags.
import { ariCertId, caMessage } from '../../../src/net/acme.js';
import { challengeKind } from '../../../src/ops/sources/acme.js';

test('ARI certificate identifier: the RFC 9773 example', () => {
  const aki = Buffer.from('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', 'hex');
  const serial = Buffer.from('0087654321', 'hex');
  expect(ariCertId(aki, serial)).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('exactly one challenge; RFC 2136 needs its TSIG key', () => {
  const d = { directory: 'https://ca.example/dir' };
  expect(challengeKind({ ...d, dnsRfc2136: 'ns1', dnsTsigKey: 'k' })).toBe('rfc2136');
  expect(challengeKind({ ...d, httpPort: 8080 })).toBe('http');
  expect(() => challengeKind(d)).toThrow(/needs a challenge/);
  expect(() => challengeKind({ ...d, httpPort: 80, dnsHook: 'x' })).toThrow(/one challenge, not 2/);
  expect(() => challengeKind({ ...d, dnsRfc2136: 'ns1' })).toThrow(/--dns-tsig-key/);
});

test('what the CA said is one line: its problem detail and type', () => {
  const err = Object.assign(new Error('Request failed'), { response: { status: 400, data: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'policy forbids issuing for "x.invalid"' } } });
  expect(caMessage(err)).toBe('policy forbids issuing for "x.invalid" (rejectedIdentifier)');
  expect(caMessage(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('connection refused');
});
