// verifyBundle (pure path validation + host + lint) over certificates minted at test time,
// and verifyFiles' contract with install: material only when fit to serve.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCertificate, type IssuedCert } from '../../../src/pki/generate.js';
import { parseBundle } from '../../../src/pki/parse.js';
import { verifyBundle, type VerifyInput } from '../../../src/pki/verify.js';
import { verifyFiles, verifyLoaded } from '../../../src/ops/verify-files.js';
import type { CertEntry, KeyEntry } from '../../../src/pki/types.js';
import { mintChain, type MintedChain } from '../../helpers/test-ca.js';

const entries = (source: string, ...certs: IssuedCert[]): CertEntry[] =>
  certs.flatMap((c) => parseBundle(Buffer.from(c.certPem), { source }).certs);
const keyOf = (source: string, c: IssuedCert): KeyEntry[] => parseBundle(Buffer.from(c.keyPem), { source }).keys;
const run = (over: Partial<VerifyInput>) =>
  verifyBundle({
    certs: [],
    chain: [],
    anchors: [],
    anchorSource: 'root.pem',
    keys: [],
    hosts: [],
    at: new Date(),
    ...over,
  });
const failed = (r: { checks: { id: string; status: string }[] }) =>
  r.checks.filter((c) => c.status === 'fail').map((c) => c.id);
const statusOf = (r: { checks: { id: string; status: string }[] }, id: string) =>
  r.checks.filter((c) => c.id === id).map((c) => c.status);

let m: MintedChain; // ECDSA: root → "Intermediate 1" → "Intermediate 2" → leaf; m.intermediates is leaf-side first
beforeAll(async () => {
  m = await mintChain({ keyType: 'ecdsa', intermediates: 2, hosts: ['tenant.example.com', '192.0.2.7'] });
});

describe('path building', () => {
  test('any order in the files builds the same path; served order is leaf first and the wrong order is a warning', () => {
    const [i1, i2] = m.intermediates as [IssuedCert, IssuedCert];
    const r = run({
      certs: entries('bundle.pem', i2, m.leaf, i1),
      anchors: entries('root.pem', m.root),
      keys: keyOf('key.pem', m.leaf),
    });
    expect(failed(r)).toEqual([]);
    expect(r.served.map((e) => e.cert.subject)).toEqual([m.leaf, i1, i2].map((c) => entries('x', c)[0]!.cert.subject));
    expect(r.path).toHaveLength(4);
    expect(statusOf(r, 'chain.order')).toEqual(['warn']);
    const inOrder = run({ certs: entries('fullchain.pem', m.leaf, i1, i2), anchors: entries('root.pem', m.root) });
    expect(statusOf(inOrder, 'chain.order')).toEqual([]);
  });

  test('the trust anchor may be an intermediate', () => {
    const r = run({
      certs: entries('leaf.pem', m.leaf),
      chain: entries('chain.pem', m.intermediates[0]!),
      anchors: entries('int2.pem', m.intermediates[1]!),
    });
    expect(failed(r)).toEqual([]);
    expect(r.anchor?.source).toBe('int2.pem');
  });

  test('a missing intermediate names the missing issuer; a same-name CA with another key is a signature failure', async () => {
    const missing = run({
      certs: entries('leaf.pem', m.leaf),
      chain: entries('chain.pem', m.intermediates[1]!),
      anchors: entries('root.pem', m.root),
    });
    expect(failed(missing)).toEqual(['chain.trust']);
    expect(missing.checks.find((c) => c.id === 'chain.trust')!.message).toMatch(
      /issued by "CN=Test Intermediate 2, O=xsoar-cert tests" \(AKI [0-9A-F]+\), which is missing/,
    );
    // A re-keyed root with the very same name: the name links, the signature does not.
    const rekeyed = await issueCertificate({
      subject: 'CN=Test Root CA, O=xsoar-cert tests',
      isCA: true,
      key: { type: 'ecdsa' },
    });
    const r = run({
      certs: entries('leaf.pem', m.leaf),
      chain: entries('chain.pem', ...m.intermediates),
      anchors: entries('root.pem', rekeyed),
    });
    expect(failed(r)).toEqual(['chain.signature']);
    expect(r.checks.find((c) => c.id === 'chain.signature')!.message).toMatch(
      /root\.pem: "Test Root CA" .* has that name, but its key did not sign this certificate/,
    );
  });

  test('a self-signed server certificate is trusted only when given as the anchor, and the message says so', async () => {
    const self = await issueCertificate({
      subject: 'tenant.example.com',
      dnsNames: ['tenant.example.com'],
      key: { type: 'ecdsa' },
      days: 90,
    });
    const untrusted = run({ certs: entries('self.pem', self), anchorSource: 'the system trust store' });
    expect(failed(untrusted)).toEqual(['chain.trust']);
    expect(untrusted.checks.find((c) => c.id === 'chain.trust')!.message).toMatch(
      /self\.pem: .* is self-signed and is not in the system trust store: pass --ca self\.pem/,
    );
    const trusted = run({
      certs: entries('self.pem', self),
      anchors: entries('self.pem', self),
      hosts: ['tenant.example.com'],
    });
    expect(failed(trusted)).toEqual([]);
    expect(trusted.served).toHaveLength(1);
  });

  test('a self-issued intermediate (CA key rollover) does not count against pathLen; a real one does', async () => {
    const root = await issueCertificate({ subject: 'CN=Roll CA', isCA: true, pathLen: 0, key: { type: 'ecdsa' } });
    const rolled = await issueCertificate({ subject: 'CN=Roll CA', isCA: true, issuer: root, key: { type: 'ecdsa' } });
    const leaf = await issueCertificate({
      subject: 'a.example.com',
      dnsNames: ['a.example.com'],
      issuer: rolled,
      key: { type: 'ecdsa' },
      days: 90,
    });
    const ok = run({
      certs: entries('leaf.pem', leaf),
      chain: entries('chain.pem', rolled),
      anchors: entries('root.pem', root),
    });
    expect(failed(ok)).toEqual([]);
    expect(ok.path).toHaveLength(3);
    const sub = await issueCertificate({ subject: 'CN=Sub CA', isCA: true, issuer: root, key: { type: 'ecdsa' } });
    const leaf2 = await issueCertificate({
      subject: 'a.example.com',
      dnsNames: ['a.example.com'],
      issuer: sub,
      key: { type: 'ecdsa' },
      days: 90,
    });
    const bad = run({
      certs: entries('leaf.pem', leaf2),
      chain: entries('chain.pem', sub),
      anchors: entries('root.pem', root),
    });
    expect(failed(bad)).toEqual(['chain.path-length']);
  });
});

describe('validity at --at (RFC 5280: both bounds inclusive, one-second resolution)', () => {
  test.each([
    ['one second before notAfter', -1000, []],
    ['notAfter itself', 0, []],
    ['999 ms after notAfter (same second)', 999, []],
    ['one second after notAfter', 1000, ['fail']],
  ])('%s', async (_name, offset, expected) => {
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 86400_000);
    const notAfter = new Date(notBefore.getTime() + 10 * 86400_000);
    const root = await issueCertificate({ subject: 'CN=V', isCA: true, key: { type: 'ecdsa' }, notBefore, days: 30 });
    const leaf = await issueCertificate({
      subject: 'v.example.com',
      dnsNames: ['v.example.com'],
      issuer: root,
      key: { type: 'ecdsa' },
      notBefore,
      notAfter,
    });
    const r = run({
      certs: entries('leaf.pem', leaf),
      anchors: entries('root.pem', root),
      at: new Date(notAfter.getTime() + offset),
    });
    expect(statusOf(r, 'chain.validity')).toEqual(expected);
  });

  test('notBefore is inclusive too', async () => {
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 + 86400_000);
    const root = await issueCertificate({ subject: 'CN=V2', isCA: true, key: { type: 'ecdsa' }, days: 30 });
    const leaf = await issueCertificate({
      subject: 'v.example.com',
      dnsNames: ['v.example.com'],
      issuer: root,
      key: { type: 'ecdsa' },
      notBefore,
      days: 10,
    });
    const at = (ms: number) =>
      run({
        certs: entries('leaf.pem', leaf),
        anchors: entries('root.pem', root),
        at: new Date(notBefore.getTime() + ms),
      });
    expect(statusOf(at(0), 'chain.validity')).toEqual([]);
    expect(statusOf(at(-1), 'chain.validity')).toEqual(['fail']);
    expect(at(-1).checks.find((c) => c.id === 'chain.validity')!.message).toContain(
      `is not valid until ${notBefore.toISOString()}`,
    );
  });
});

describe('key match', () => {
  test('the leaf key passes; the key of another cert in the files is named; a stranger key is told apart', async () => {
    const base = {
      certs: entries('leaf.pem', m.leaf),
      chain: entries('chain.pem', ...m.intermediates),
      anchors: entries('root.pem', m.root),
    };
    expect(statusOf(run({ ...base, keys: keyOf('leaf-key.pem', m.leaf) }), 'key-match')).toEqual(['pass']);
    const wrong = run({ ...base, keys: keyOf('int-key.pem', m.intermediates[0]!) });
    const msg = wrong.checks.find((c) => c.id === 'key-match')!;
    expect(msg.status).toBe('fail');
    expect(msg.message).toMatch(
      /int-key\.pem: this key belongs to another certificate in your files, chain\.pem: "Test Intermediate 2" \(serial [0-9A-F]+…?\), not to the leaf "tenant\.example\.com"/,
    );
    const stranger = await issueCertificate({ subject: 's', key: { type: 'ecdsa' } });
    const none = run({ ...base, keys: keyOf('stranger.pem', stranger) });
    expect(none.checks.find((c) => c.id === 'key-match')!.message).toMatch(
      /stranger\.pem: no certificate in your files matches this key/,
    );
    expect(run(base).checks.find((c) => c.id === 'key-match')!.status).toBe('skip');
  });
});

describe('name constraints', () => {
  const leafUnder = async (ca: IssuedCert, spec: { subject: string; dnsNames?: string[]; ipAddresses?: string[] }) =>
    run({
      certs: entries('leaf.pem', await issueCertificate({ ...spec, issuer: ca, key: { type: 'ecdsa' }, days: 90 })),
      anchors: entries('root.pem', ca),
    });

  test('DNS permitted/excluded with subtrees, wildcard SANs against an excluded name', async () => {
    const ca = await issueCertificate({
      subject: 'CN=NC',
      isCA: true,
      key: { type: 'ecdsa' },
      nameConstraints: { permittedDNS: ['example.com'], excludedDNS: ['secret.example.com'] },
    });
    expect(
      failed(await leafUnder(ca, { subject: 'a.example.com', dnsNames: ['a.example.com', 'example.com'] })),
    ).toEqual([]);
    expect(
      failed(await leafUnder(ca, { subject: 'x.secret.example.com', dnsNames: ['x.secret.example.com'] })),
    ).toEqual(['chain.name-constraints']);
    expect(failed(await leafUnder(ca, { subject: 'a.notexample.com', dnsNames: ['a.notexample.com'] }))).toEqual([
      'chain.name-constraints',
    ]);
    // *.example.com would be accepted for secret.example.com by a client, so it breaks the exclusion.
    expect(failed(await leafUnder(ca, { subject: '*.example.com', dnsNames: ['*.example.com'] }))).toEqual([
      'chain.name-constraints',
    ]);
  });

  test('IP ranges (v4 and v6); a permitted v4 range does not admit a v6 address', async () => {
    const ca = await issueCertificate({
      subject: 'CN=NCIP',
      isCA: true,
      key: { type: 'ecdsa' },
      nameConstraints: { permittedIP: ['192.0.2.0/24'], excludedIP: ['192.0.2.128/25'] },
    });
    expect(failed(await leafUnder(ca, { subject: 'ip', ipAddresses: ['192.0.2.7'] }))).toEqual([]);
    expect(failed(await leafUnder(ca, { subject: 'ip', ipAddresses: ['192.0.2.200'] }))).toEqual([
      'chain.name-constraints',
    ]);
    expect(failed(await leafUnder(ca, { subject: 'ip', ipAddresses: ['2001:db8::1'] }))).toEqual([
      'chain.name-constraints',
    ]);
    const v6 = await issueCertificate({
      subject: 'CN=NC6',
      isCA: true,
      key: { type: 'ecdsa' },
      nameConstraints: { excludedIP: ['2001:db8::/32'] },
    });
    expect(failed(await leafUnder(v6, { subject: 'ip6', ipAddresses: ['2001:db8:0:0::5'] }))).toEqual([
      'chain.name-constraints',
    ]);
    expect(failed(await leafUnder(v6, { subject: 'ip6', ipAddresses: ['2001:db9::5'] }))).toEqual([]);
  });

  test('the CN is constrained only when the certificate has no SAN', async () => {
    const ca = await issueCertificate({
      subject: 'CN=NCCN',
      isCA: true,
      key: { type: 'ecdsa' },
      nameConstraints: { permittedDNS: ['example.com'] },
    });
    expect(failed(await leafUnder(ca, { subject: 'evil.example.org' }))).toContain('chain.name-constraints');
    // With a SAN the CN is not a name the constraints apply to (only a CN-not-in-SAN warning).
    const withSan = await leafUnder(ca, { subject: 'evil.example.org', dnsNames: ['a.example.com'] });
    expect(failed(withSan)).toEqual([]);
    expect(statusOf(withSan, 'profile.cn-not-in-san')).toEqual(['warn']);
  });
});

describe('hosts', () => {
  test('DNS and IP hosts are matched against the leaf SANs, each as its own check', () => {
    const r = run({
      certs: entries('leaf.pem', m.leaf),
      chain: entries('chain.pem', ...m.intermediates),
      anchors: entries('root.pem', m.root),
      hosts: ['Tenant.Example.com.', '192.0.2.7', '192.0.2.8', 'other.example.com'],
    });
    expect(statusOf(r, 'host')).toEqual(['pass', 'pass', 'fail', 'fail']);
    const fails = r.checks.filter((c) => c.id === 'host' && c.status === 'fail');
    expect(fails[0]!.message).toMatch(
      /leaf\.pem: "tenant\.example\.com" \(serial [0-9A-F]+…?\) does not cover 192\.0\.2\.8: IP SANs are 192\.0\.2\.7; get a certificate that lists this IP as an IP SAN/,
    );
    expect(fails[0]!.file).toBe('leaf.pem');
    expect(fails[1]!.message).toMatch(/as a DNS SAN/);
  });
});

describe('verifyFiles / verifyLoaded: the material install uses', () => {
  test('ok with a key: chainPem is leaf + intermediates in order, rootPem the anchor, keyPem PKCS#8', async () => {
    const { report, material } = await verifyFiles({
      cert: m.files.bundle,
      key: m.files.key,
      ca: m.files.root,
      hosts: ['tenant.example.com'],
    });
    expect(report.ok).toBe(true);
    expect(report.checks.filter((c) => c.id.startsWith('tls.')).map((c) => c.status)).toEqual(['pass', 'pass']);
    const blocks = material!.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
    expect(blocks.map((b) => b.replace(/\s/g, ''))).toEqual(
      [m.leaf, ...m.intermediates].map((c) => c.certPem.trim().replace(/\s/g, '')),
    );
    expect(material!.rootPem!.replace(/\s/g, '')).toBe(m.root.certPem.replace(/\s/g, ''));
    expect(material!.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    // The report (printed and logged) never carries the key.
    expect(JSON.stringify(report)).not.toMatch(/PRIVATE KEY/);
  });

  test('no material without a key, or when a check fails; TLS skips keep both ids', async () => {
    const noKey = await verifyFiles({ cert: m.files.fullchain, ca: m.files.root });
    expect(noKey.report.ok).toBe(true);
    expect(noKey.material).toBeUndefined();
    expect(noKey.report.checks.filter((c) => c.id.startsWith('tls.')).map((c) => `${c.id}:${c.status}`)).toEqual([
      'tls.1.2:skip',
      'tls.1.3:skip',
    ]);
    const badHost = await verifyFiles({
      cert: m.files.fullchain,
      key: m.files.key,
      ca: m.files.root,
      hosts: ['nope.example.com'],
    });
    expect(badHost.report.ok).toBe(false);
    expect(badHost.material).toBeUndefined();
  });

  test('verifyLoaded accepts parsed bundles (as read back from a secret)', async () => {
    const cert = parseBundle(Buffer.from(m.leaf.certPem + m.intermediates.map((i) => i.certPem).join('')), {
      source: 'secret ns/tls tls.crt',
    });
    const key = parseBundle(Buffer.from(m.leaf.keyPem), { source: 'secret ns/tls tls.key' });
    const ca = parseBundle(Buffer.from(m.root.certPem), { source: 'secret ns/tls ca.crt' });
    const { report, material } = await verifyLoaded(
      { cert, key, ca, caSource: 'secret ns/tls ca.crt' },
      { hosts: ['192.0.2.7'], tls: false },
    );
    expect(report.ok).toBe(true);
    expect(material?.leaf.ipAddresses).toEqual(['192.0.2.7']);
  });

  test('a PKCS#8 key file without a certificate as --cert is an input error', async () => {
    const f = path.join(m.dir, 'only-key.pem');
    await writeFile(f, m.leaf.keyPem, { mode: 0o600 });
    await expect(verifyFiles({ cert: f })).rejects.toMatchObject({
      exitCode: 3,
      message: expect.stringMatching(/only-key\.pem: holds no certificate/),
    });
  });
});

describe('without --ca: the system trust store', () => {
  // Real public chains (x509-limbo's online:: cases, captured with their validation time):
  // served leaf + intermediate(s) whose root is not in the files but in Node's root store.
  interface Online {
    id: string;
    peer_certificate: string;
    untrusted_intermediates: string[];
    trusted_certs: string[];
    validation_time: string;
    expected_peer_name: { value: string };
  }
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/x509-limbo');
  const suite = JSON.parse(gunzipSync(readFileSync(path.join(dir, 'limbo.json.gz'))).toString('utf8')) as {
    testcases: Online[];
  };
  const nodeRoots = new Set(rootCertificates.map((p) => new X509Certificate(p).fingerprint256));
  const online = suite.testcases.filter(
    (t) =>
      t.id.startsWith('online::') && t.trusted_certs.every((p) => nodeRoots.has(new X509Certificate(p).fingerprint256)),
  );

  test('public chains end at a system root, found from the intermediate the files hold', async () => {
    expect(online.length).toBeGreaterThanOrEqual(10);
    const m = await mintChain({ intermediates: 0 });
    for (const t of online) {
      const leaf = path.join(m.dir, 'public-leaf.pem');
      const chain = path.join(m.dir, 'public-chain.pem');
      await writeFile(leaf, t.peer_certificate);
      await writeFile(chain, t.untrusted_intermediates.join('\n'));
      const { report } = await verifyFiles({
        cert: leaf,
        chain: [chain],
        hosts: [t.expected_peer_name.value],
        at: new Date(t.validation_time),
      });
      const trust = report.checks.find((c) => c.id === 'chain.trust')!;
      expect({ id: t.id, failed: report.checks.filter((c) => c.status === 'fail').map((c) => c.message) }).toEqual({
        id: t.id,
        failed: [],
      });
      expect(trust.message).toMatch(/from the system trust store$/);
      // The anchor was not in the files: the chain is leaf + intermediates + the system root.
      expect(report.chain).toHaveLength(t.untrusted_intermediates.length + 2);
    }
  });
});
