// Every accept and reject case of `verify`, through the built CLI as a user runs it.
import { writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';
import { issueCertificate } from '../../src/pki/generate.js';

const verify = (m: MintedChain, extra: string[] = []) =>
  runCli(['verify', '--cert', m.files.leaf, '--key', m.files.key, '--chain', m.files.chain, '--ca', m.files.root, '--host', 'localhost', ...extra]);

const checkStatus = (json: string, id: string) => (JSON.parse(json) as { checks: { id: string; status: string }[] }).checks.filter((c) => c.id === id).map((c) => c.status);

describe.each([
  ['rsa', 1],
  ['ecdsa', 1],
  ['rsa', 2],
  ['ecdsa', 2],
] as const)('verify accepts a good %s chain with %i intermediate(s)', (keyType, intermediates) => {
  test('exit 0, every check passes, both TLS versions handshake', async () => {
    const m = await mintChain({ keyType, intermediates: intermediates as 1 | 2, hosts: ['localhost', '127.0.0.1'] });
    const r = await verify(m, ['--host', '127.0.0.1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(checkStatus(r.stdout, 'tls.1.2')).toEqual(['pass']);
    expect(checkStatus(r.stdout, 'tls.1.3')).toEqual(['pass']);
    expect(checkStatus(r.stdout, 'host')).toEqual(['pass', 'pass']);
    expect(report.chain).toHaveLength(intermediates + 2);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect(r.stdout).not.toContain((await readFile(m.files.key, 'utf8')).split('\n')[1]);
  });
});

describe('verify rejects', () => {
  let good: MintedChain;
  beforeAll(async () => {
    good = await mintChain({ keyType: 'ecdsa', intermediates: 1 });
  });

  test('a key that belongs to another certificate in the files, naming that certificate', async () => {
    const other = await issueCertificate({ subject: 'other', isCA: true, key: { type: 'ecdsa' } });
    const f = path.join(good.dir, 'mix.pem');
    await writeFile(f, good.leaf.certPem + other.certPem);
    const keyFile = path.join(good.dir, 'other-key.pem');
    await writeFile(keyFile, other.keyPem, { mode: 0o600 });
    const r = await runCli(['verify', '--cert', f, '--key', keyFile, '--chain', good.files.chain, '--ca', good.files.root, '--no-tls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/other-key\.pem: this key belongs to another certificate in your files, .*mix\.pem: "other"/);
  });

  test('a key that matches nothing', async () => {
    const stranger = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
    const r = await runCli(['verify', '--cert', good.files.leaf, '--key', stranger.files.key, '--chain', good.files.chain, '--ca', good.files.root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no certificate in your files matches this key/);
  });

  test('a missing intermediate, naming the issuer and its AKI', async () => {
    const r = await runCli(['verify', '--cert', good.files.leaf, '--key', good.files.key, '--ca', good.files.root, '--host', 'localhost']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/was issued by "CN=Test Intermediate 1, O=xsoar-cert tests" \(AKI [0-9A-F]{40}\), which is missing/);
  });

  test('the wrong root', async () => {
    const other = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
    const r = await runCli(['verify', '--cert', good.files.leaf, '--key', good.files.key, '--chain', good.files.chain, '--ca', other.files.root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chain|root/);
  });

  test('a private root without --ca is not trusted by the system store', async () => {
    const r = await runCli(['verify', '--cert', good.files.bundle, '--key', good.files.key, '--host', 'localhost', '--no-tls', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'chain.trust').message).toMatch(/not in the system trust store: pass --ca FILE/);
  });

  test('a host the certificate does not cover, and an IP only in the CN', async () => {
    const r = await verify(good, ['--host', 'evil.example.com', '--host', '10.9.9.9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not cover evil\.example\.com/);
    expect(r.stderr).toMatch(/does not cover 10\.9\.9\.9/);
  });

  test('expiry: valid at notAfter itself, invalid one second later', async () => {
    // Whole seconds: X.509 times have one-second resolution. The CAs were made now, so stay after now.
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 + 86400_000);
    const notAfter = new Date(notBefore.getTime() + 40 * 86400_000);
    const m = await mintChain({ intermediates: 1, leaf: { notBefore, notAfter } });
    const at = await verify(m, ['--at', notAfter.toISOString(), '--json']);
    expect(checkStatus(at.stdout, 'chain.validity')).toEqual([]);
    const after = await verify(m, ['--at', new Date(notAfter.getTime() + 1000).toISOString()]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain(`expired on ${notAfter.toISOString()}`);
    const at0 = await verify(m, ['--at', notBefore.toISOString()]);
    expect(at0.code).toBe(0);
    const before = await verify(m, ['--at', new Date(notBefore.getTime() - 1000).toISOString()]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain(`is not valid until ${notBefore.toISOString()}`);
  });

  test('an intermediate that is not a CA, or lacks keyCertSign', async () => {
    const root = await issueCertificate({ subject: 'R', isCA: true, key: { type: 'ecdsa' } });
    for (const bad of [{ isCA: false, eku: null }, { isCA: true, keyUsage: ['digitalSignature'] }]) {
      const int = await issueCertificate({ subject: 'I', issuer: root, key: { type: 'ecdsa' }, ...bad });
      const leaf = await issueCertificate({ subject: 'localhost', dnsNames: ['localhost'], issuer: int, key: { type: 'ecdsa' }, days: 90 });
      const dir = good.dir;
      await writeFile(path.join(dir, 'r.pem'), root.certPem);
      await writeFile(path.join(dir, 'i.pem'), int.certPem);
      await writeFile(path.join(dir, 'l.pem'), leaf.certPem);
      const r = await runCli(['verify', '--cert', path.join(dir, 'l.pem'), '--chain', path.join(dir, 'i.pem'), '--ca', path.join(dir, 'r.pem')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(bad.isCA ? /not allowed to sign certificates \(keyUsage lacks keyCertSign\)/ : /is not a CA/);
    }
  });

  test('a path length violation', async () => {
    const root = await issueCertificate({ subject: 'R', isCA: true, pathLen: 0, key: { type: 'ecdsa' } });
    const int = await issueCertificate({ subject: 'I', isCA: true, issuer: root, key: { type: 'ecdsa' } });
    const leaf = await issueCertificate({ subject: 'localhost', dnsNames: ['localhost'], issuer: int, key: { type: 'ecdsa' }, days: 90 });
    const d = good.dir;
    await writeFile(path.join(d, 'pr.pem'), root.certPem);
    await writeFile(path.join(d, 'pl.pem'), leaf.certPem + int.certPem);
    const r = await runCli(['verify', '--cert', path.join(d, 'pl.pem'), '--ca', path.join(d, 'pr.pem')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/allows 0 intermediate\(s\) below it \(pathLen\) but the chain has 1/);
  });

  test('name constraints: permitted and excluded, DNS and IP', async () => {
    const root = await issueCertificate({ subject: 'R', isCA: true, key: { type: 'ecdsa' }, nameConstraints: { permittedDNS: ['example.com'], excludedIP: ['10.0.0.0/8'] } });
    const d = good.dir;
    await writeFile(path.join(d, 'ncr.pem'), root.certPem);
    const cases = [
      { dns: ['a.example.com'], ip: [], ok: true },
      { dns: ['a.example.org'], ip: [], ok: false, msg: /a\.example\.org is outside the permitted names/ },
      { dns: ['a.example.com'], ip: ['10.1.2.3'], ok: false, msg: /IP 10\.1\.2\.3 is excluded/ },
    ];
    for (const c of cases) {
      const leaf = await issueCertificate({ subject: c.dns[0]!, dnsNames: c.dns, ipAddresses: c.ip, issuer: root, key: { type: 'ecdsa' }, days: 90 });
      await writeFile(path.join(d, 'ncl.pem'), leaf.certPem);
      const r = await runCli(['verify', '--cert', path.join(d, 'ncl.pem'), '--ca', path.join(d, 'ncr.pem')]);
      expect(r.code).toBe(c.ok ? 0 : 1);
      if (c.msg) expect(r.stderr).toMatch(c.msg);
    }
  });

  test('lint errors: weak RSA, SHA-1, no serverAuth, CA leaf', async () => {
    const root = await issueCertificate({ subject: 'R', isCA: true, key: { type: 'ecdsa' } });
    const d = good.dir;
    await writeFile(path.join(d, 'lr.pem'), root.certPem);
    const cases: [object, RegExp][] = [
      [{ key: { type: 'rsa', bits: 1024 } }, /1024-bit RSA key/],
      [{ key: { type: 'rsa', bits: 2048 }, signatureHash: 'SHA-1' }, /signed with SHA-1/],
      [{ eku: ['clientAuth'] }, /without serverAuth/],
      [{ isCA: true }, /is a CA certificate \(CA:TRUE\), not a server certificate/],
    ];
    for (const [spec, msg] of cases) {
      const leaf = await issueCertificate({ subject: 'localhost', dnsNames: ['localhost'], issuer: root, days: 90, key: { type: 'ecdsa' }, ...spec });
      await writeFile(path.join(d, 'll.pem'), leaf.certPem);
      const r = await runCli(['verify', '--cert', path.join(d, 'll.pem'), '--ca', path.join(d, 'lr.pem')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
  });

  test('warnings keep exit 0: over 398 days, expiring within 30 days, root in the served chain', async () => {
    const m = await mintChain({ intermediates: 1, leaf: { days: 400 } });
    const r = await runCli(['verify', '--cert', m.files.bundle, '--key', m.files.key, '--ca', m.files.root, '--host', 'localhost', '--json']);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'lint.lifetime')).toEqual(['warn']);
    expect(checkStatus(r.stdout, 'lint.root-in-chain')).toEqual(['warn']);
    const soon = await mintChain({ intermediates: 1, leaf: { notBefore: new Date(Date.now() - 80 * 86400000), days: 90 } });
    const s = await verify(soon, ['--json']);
    expect(s.code).toBe(0);
    expect(checkStatus(s.stdout, 'lint.expiry-soon')).toEqual(['warn']);
  });

  test('wrong order in the cert file is tolerated and reported as a warning', async () => {
    const f = path.join(good.dir, 'reversed.pem');
    await writeFile(f, good.intermediates[0]!.certPem + good.leaf.certPem);
    const r = await runCli(['verify', '--cert', f, '--key', good.files.key, '--ca', good.files.root, '--host', 'localhost', '--json']);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'chain.order')).toEqual(['warn']);
  });
});

describe('verify input errors: one line, exit 3, no stack', () => {
  test.each([
    ['a missing file', async (d: string) => path.join(d, 'nope.pem'), /nope\.pem: no such file/],
    ['garbage', async (d: string) => { const f = path.join(d, 'g.pem'); await writeFile(f, 'hello world'); return f; }, /no certificate or private key found/],
    ['a truncated PEM', async (d: string) => { const m = await mintChain({ intermediates: 0, dir: d }); const f = path.join(d, 't.pem'); await writeFile(f, m.leaf.certPem.slice(0, 200)); return f; }, /truncated/],
    ['a CSR', async (d: string) => { const f = path.join(d, 'csr.pem'); await writeFile(f, '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n'); return f; }, /certificate signing request/],
  ])('%s', async (_name, make, msg) => {
    const m = await mintChain({ intermediates: 0 });
    const f = await make(m.dir);
    const r = await runCli(['verify', '--cert', f]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('bad --at is a usage error (exit 2)', async () => {
    const m = await mintChain({ intermediates: 0 });
    const r = await runCli(['verify', '--cert', m.files.leaf, '--at', 'yesterday']);
    expect(r.code).toBe(2);
  });
});
