// RFC 9773 (ARI) certificate identifiers, on the RFC's own example (section 4.1), and the
// challenge choice from the flags.
import { ariCertId } from '../../../src/net/acme.js';
import { caMessage } from '../../../src/net/acme-order.js';
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
  const err = Object.assign(new Error('Request failed'), {
    response: {
      status: 400,
      data: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'policy forbids issuing for "x.invalid"' },
    },
  });
  expect(caMessage(err)).toBe('policy forbids issuing for "x.invalid" (rejectedIdentifier)');
  expect(caMessage(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(
    'connection refused',
  );
});

test('ARI identifier of a real certificate: its AKI key id and its serial (DER, with the sign byte)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = (await import('node:path')).default;
  const { ariCertIdOf } = await import('../../../src/net/acme.js');
  const d = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-ari-'));
  const sh = (args: string[]) => expect(spawnSync('openssl', args, { cwd: d }).status).toBe(0);
  sh([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=ARI CA',
  ]);
  sh([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'l.key',
    '-out',
    'l.csr',
    '-subj',
    '/CN=ari.example',
  ]);
  writeFileSync(path.join(d, 'ext'), 'authorityKeyIdentifier=keyid\nsubjectAltName=DNS:ari.example\n');
  // A serial whose first byte has the high bit set: DER adds a 0x00 sign byte.
  sh([
    'x509',
    '-req',
    '-in',
    'l.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '0x87654321',
    '-out',
    'l.pem',
    '-days',
    '2',
    '-extfile',
    'ext',
  ]);
  const ski = spawnSync('openssl', ['x509', '-in', 'ca.pem', '-noout', '-ext', 'subjectKeyIdentifier'], {
    cwd: d,
    encoding: 'utf8',
  })
    .stdout.split('\n')[1]!
    .trim()
    .replace(/:/g, '');
  const id = await ariCertIdOf(readFileSync(path.join(d, 'l.pem'), 'utf8'));
  expect(id).toBe(
    `${Buffer.from(ski, 'hex').toString('base64url')}.${Buffer.from('0087654321', 'hex').toString('base64url')}`,
  );
});

test("the renewal window is read from the CA's renewalInfo (a real HTTPS server on loopback); none when it has none", async () => {
  const https = await import('node:https');
  const { generateDevCA, generateDevLeaf } = await import('../../../src/pki/generate.js');
  const { fetchRenewalWindow } = await import('../../../src/net/acme.js');
  const ca = await generateDevCA({});
  const leaf = await generateDevLeaf({ hosts: ['127.0.0.1'], issuer: ca });
  const seen: string[] = [];
  const server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/ari/known')
      res.end(JSON.stringify({ suggestedWindow: { start: '2027-01-01T00:00:00Z', end: '2027-01-02T00:00:00Z' } }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    const dir = { url: 'x', externalAccountRequired: false, renewalInfo: `https://127.0.0.1:${port}/ari/` };
    const w = await fetchRenewalWindow(dir, 'known', Buffer.from(ca.certPem));
    expect(w).toEqual({ start: new Date('2027-01-01T00:00:00Z'), end: new Date('2027-01-02T00:00:00Z') });
    expect(await fetchRenewalWindow(dir, 'unknown', Buffer.from(ca.certPem))).toBeUndefined();
    expect(await fetchRenewalWindow({ ...dir, renewalInfo: undefined }, 'known')).toBeUndefined();
    expect(seen).toEqual(['/ari/known', '/ari/unknown']);
  } finally {
    server.close();
  }
});
