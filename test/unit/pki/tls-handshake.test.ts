// The loopback handshake: a real server with the key and chain, a client that trusts only
// the given root and checks the host, pinned to TLS 1.2 and to TLS 1.3.
import { mintChain, type MintedChain } from '../../helpers/test-ca.js';
import { cleanTlsError, handshakeChecks } from '../../../src/pki/tls-handshake.js';

let m: MintedChain;
let other: MintedChain;
beforeAll(async () => {
  m = await mintChain({
    keyType: 'ecdsa',
    intermediates: 1,
    hosts: ['tenant.example.com', '192.0.2.10', '2001:db8::10'],
  });
  other = await mintChain({ keyType: 'rsa', intermediates: 0 });
});

const fullchain = () => m.leaf.certPem + m.intermediates.map((i) => i.certPem).join('');
const statusById = (checks: { id: string; status: string }[]) =>
  Object.fromEntries(checks.map((c) => [c.id, c.status]));

test.each(['tenant.example.com', 'TENANT.example.com.', '192.0.2.10', '[2001:db8:0::10]'])(
  'both versions pass for %s',
  async (host) => {
    const checks = await handshakeChecks({ keyPem: m.leaf.keyPem, chainPem: fullchain(), caPem: m.root.certPem, host });
    expect(statusById(checks)).toEqual({ 'tls.1.2': 'pass', 'tls.1.3': 'pass' });
    // Each check really ran its own version: the cipher suite names differ between 1.2 and 1.3.
    expect(checks.find((c) => c.id === 'tls.1.3')!.message).toMatch(/TLS_AES|TLS_CHACHA20/);
    expect(checks.find((c) => c.id === 'tls.1.2')!.message).toMatch(/ECDHE-ECDSA/);
  },
);

test('a host the certificate does not cover fails both versions, naming the cert via the label', async () => {
  const checks = await handshakeChecks({
    keyPem: m.leaf.keyPem,
    chainPem: fullchain(),
    caPem: m.root.certPem,
    host: 'evil.example.com',
    label: 'leaf.pem: "x"',
  });
  expect(statusById(checks)).toEqual({ 'tls.1.2': 'fail', 'tls.1.3': 'fail' });
  for (const c of checks)
    expect(c.message).toMatch(/leaf\.pem: "x": .*evil\.example\.com.*ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('a client trusting another root refuses the chain', async () => {
  const checks = await handshakeChecks({
    keyPem: m.leaf.keyPem,
    chainPem: fullchain(),
    caPem: other.root.certPem,
    host: 'tenant.example.com',
  });
  expect(statusById(checks)).toEqual({ 'tls.1.2': 'fail', 'tls.1.3': 'fail' });
});

test('a server that omits the intermediate is refused', async () => {
  const checks = await handshakeChecks({
    keyPem: m.leaf.keyPem,
    chainPem: m.leaf.certPem,
    caPem: m.root.certPem,
    host: 'tenant.example.com',
  });
  expect(statusById(checks)).toEqual({ 'tls.1.2': 'fail', 'tls.1.3': 'fail' });
  expect(checks[0]!.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
});

test.each([
  ['another type (RSA key, ECDSA leaf)', () => other.leaf.keyPem],
  ['the same type (the intermediate key)', () => m.intermediates[0]!.keyPem],
])('a key of %s that is not the leaf key: a clear failure, no key bytes echoed', async (_name, keyOf) => {
  const keyPem = keyOf();
  const checks = await handshakeChecks({
    keyPem,
    chainPem: fullchain(),
    caPem: m.root.certPem,
    host: 'tenant.example.com',
    about: { file: 'leaf.pem' },
  });
  expect(statusById(checks)).toEqual({ 'tls.1.2': 'fail', 'tls.1.3': 'fail' });
  for (const c of checks) {
    expect(c.message).toMatch(/does not belong to this certificate/);
    expect(c.file).toBe('leaf.pem');
    expect(c.message).not.toContain(keyPem.split('\n')[1]!);
  }
});

test('cleanTlsError keeps the reason of an OpenSSL error line and drops its source location', () => {
  const raw =
    '804C885A707F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 40\n';
  expect(cleanTlsError(raw)).toBe('sslv3 alert handshake failure (SSL alert number 40)');
  expect(cleanTlsError('Hostname/IP does not match\ncertificate')).toBe('Hostname/IP does not match certificate');
});
