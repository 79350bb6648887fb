// Every accept and reject case of `verify`, through the built CLI as a user runs it.
import { writeFile, readFile } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';
import { issueCertificate } from '../../src/pki/generate.js';

const verify = (m: MintedChain, extra: string[] = []) =>
  runCli([
    'verify',
    '--cert',
    m.files.leaf,
    '--key',
    m.files.key,
    '--chain',
    m.files.chain,
    '--ca',
    m.files.root,
    '--host',
    'localhost',
    ...extra,
  ]);

const checkStatus = (json: string, id: string) =>
  (JSON.parse(json) as { checks: { id: string; status: string }[] }).checks
    .filter((c) => c.id === id)
    .map((c) => c.status);

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

// The main reject cases for every key type and chain length, as the issue asks.
describe.each([
  ['rsa', 1],
  ['ecdsa', 1],
  ['rsa', 2],
  ['ecdsa', 2],
] as const)('verify rejects a %s chain with %i intermediate(s) that is', (keyType, intermediates) => {
  let m: MintedChain;
  let stranger: MintedChain;
  beforeAll(async () => {
    m = await mintChain({ keyType, intermediates: intermediates as 1 | 2, hosts: ['tenant.example.com'] });
    stranger = await mintChain({ keyType, intermediates: 0 });
  });
  const base = () => [
    'verify',
    '--cert',
    m.files.leaf,
    '--key',
    m.files.key,
    '--chain',
    m.files.chain,
    '--ca',
    m.files.root,
    '--host',
    'tenant.example.com',
    '--json',
  ];
  const failedIds = (stdout: string) =>
    (JSON.parse(stdout) as { checks: { id: string; status: string }[] }).checks
      .filter((c) => c.status === 'fail')
      .map((c) => c.id);

  test('missing its leaf-side intermediate', async () => {
    const onlyTop = m.intermediates
      .slice(1)
      .map((c) => c.certPem)
      .join('');
    const f = path.join(m.dir, 'partial.pem');
    await writeFile(f, onlyTop);
    const args = [
      'verify',
      '--cert',
      m.files.leaf,
      '--key',
      m.files.key,
      '--ca',
      m.files.root,
      '--host',
      'tenant.example.com',
      '--json',
    ];
    const r = await runCli(intermediates === 2 ? [...args, '--chain', f] : args);
    expect(r.code).toBe(1);
    expect(failedIds(r.stdout)).toEqual(['chain.trust', 'tls.1.2', 'tls.1.3']);
  });

  test('anchored at another root', async () => {
    const r = await runCli(base().map((a) => (a === m.files.root ? stranger.files.root : a)));
    expect(r.code).toBe(1);
    // Same subject, other key: the signature is what tells them apart.
    expect(failedIds(r.stdout)).toEqual(['chain.signature', 'tls.1.2', 'tls.1.3']);
  });

  test('expired at --at (the handshake is skipped for --at)', async () => {
    const r = await runCli([...base(), '--at', new Date(Date.now() + 120 * 86400_000).toISOString()]);
    expect(r.code).toBe(1);
    expect(failedIds(r.stdout)).toEqual(['chain.validity']);
  });

  test('asked for a host it does not cover', async () => {
    const r = await runCli(base().map((a) => (a === 'tenant.example.com' ? 'other.example.com' : a)));
    expect(r.code).toBe(1);
    expect(failedIds(r.stdout)).toEqual(['host', 'tls.1.2', 'tls.1.3']);
  });

  test('given a key that is not its own', async () => {
    const r = await runCli(base().map((a) => (a === m.files.key ? stranger.files.key : a)));
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(failedIds(r.stdout)).toEqual(['key-match']);
    expect(
      report.checks.filter((c: { id: string }) => c.id.startsWith('tls.')).map((c: { status: string }) => c.status),
    ).toEqual(['skip', 'skip']);
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
    const r = await runCli([
      'verify',
      '--cert',
      f,
      '--key',
      keyFile,
      '--chain',
      good.files.chain,
      '--ca',
      good.files.root,
      '--no-tls',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /other-key\.pem: this key belongs to another certificate in your files, .*mix\.pem: "other"/,
    );
  });

  test('a key that matches nothing', async () => {
    const stranger = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
    const r = await runCli([
      'verify',
      '--cert',
      good.files.leaf,
      '--key',
      stranger.files.key,
      '--chain',
      good.files.chain,
      '--ca',
      good.files.root,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no certificate in your files matches this key/);
  });

  test('a missing intermediate, naming the issuer and its AKI', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      good.files.leaf,
      '--key',
      good.files.key,
      '--ca',
      good.files.root,
      '--host',
      'localhost',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /was issued by "CN=Test Intermediate 1, O=xsoar-cert tests" \(AKI [0-9A-F]{40}\), which is missing/,
    );
  });

  test('the wrong root', async () => {
    const other = await mintChain({ keyType: 'ecdsa', intermediates: 0 });
    const r = await runCli([
      'verify',
      '--cert',
      good.files.leaf,
      '--key',
      good.files.key,
      '--chain',
      good.files.chain,
      '--ca',
      other.files.root,
    ]);
    expect(r.code).toBe(1);
    // Both roots are "Test Root CA": the name matches, the signature does not.
    expect(r.stderr).toMatch(
      /chain\.pem: "Test Intermediate 1" .* names "CN=Test Root CA, O=xsoar-cert tests" as its issuer, and .*root\.pem: "Test Root CA" .* has that name, but its key did not sign this certificate/,
    );
  });

  test('a private root without --ca is not trusted by the system store', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      good.files.bundle,
      '--key',
      good.files.key,
      '--host',
      'localhost',
      '--no-tls',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'chain.trust').message).toMatch(
      /not in the system trust store: pass --ca FILE/,
    );
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
    for (const bad of [
      { isCA: false, eku: null },
      { isCA: true, keyUsage: ['digitalSignature'] },
    ]) {
      const int = await issueCertificate({ subject: 'I', issuer: root, key: { type: 'ecdsa' }, ...bad });
      const leaf = await issueCertificate({
        subject: 'localhost',
        dnsNames: ['localhost'],
        issuer: int,
        key: { type: 'ecdsa' },
        days: 90,
      });
      const dir = good.dir;
      await writeFile(path.join(dir, 'r.pem'), root.certPem);
      await writeFile(path.join(dir, 'i.pem'), int.certPem);
      await writeFile(path.join(dir, 'l.pem'), leaf.certPem);
      const r = await runCli([
        'verify',
        '--cert',
        path.join(dir, 'l.pem'),
        '--chain',
        path.join(dir, 'i.pem'),
        '--ca',
        path.join(dir, 'r.pem'),
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        bad.isCA ? /not allowed to sign certificates \(keyUsage lacks keyCertSign\)/ : /is not a CA/,
      );
    }
  });

  test('a path length violation', async () => {
    const root = await issueCertificate({ subject: 'R', isCA: true, pathLen: 0, key: { type: 'ecdsa' } });
    const int = await issueCertificate({ subject: 'I', isCA: true, issuer: root, key: { type: 'ecdsa' } });
    const leaf = await issueCertificate({
      subject: 'localhost',
      dnsNames: ['localhost'],
      issuer: int,
      key: { type: 'ecdsa' },
      days: 90,
    });
    const d = good.dir;
    await writeFile(path.join(d, 'pr.pem'), root.certPem);
    await writeFile(path.join(d, 'pl.pem'), leaf.certPem + int.certPem);
    const r = await runCli(['verify', '--cert', path.join(d, 'pl.pem'), '--ca', path.join(d, 'pr.pem')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/allows 0 intermediate\(s\) below it \(pathLen\) but the chain has 1/);
  });

  test('name constraints: permitted and excluded, DNS and IP', async () => {
    const root = await issueCertificate({
      subject: 'R',
      isCA: true,
      key: { type: 'ecdsa' },
      nameConstraints: { permittedDNS: ['example.com'], excludedIP: ['10.0.0.0/8'] },
    });
    const d = good.dir;
    await writeFile(path.join(d, 'ncr.pem'), root.certPem);
    const cases = [
      { dns: ['a.example.com'], ip: [], ok: true },
      { dns: ['a.example.org'], ip: [], ok: false, msg: /a\.example\.org is outside the permitted names/ },
      { dns: ['a.example.com'], ip: ['10.1.2.3'], ok: false, msg: /IP 10\.1\.2\.3 is excluded/ },
    ];
    for (const c of cases) {
      const leaf = await issueCertificate({
        subject: c.dns[0]!,
        dnsNames: c.dns,
        ipAddresses: c.ip,
        issuer: root,
        key: { type: 'ecdsa' },
        days: 90,
      });
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
      const leaf = await issueCertificate({
        subject: 'localhost',
        dnsNames: ['localhost'],
        issuer: root,
        days: 90,
        key: { type: 'ecdsa' },
        ...spec,
      });
      await writeFile(path.join(d, 'll.pem'), leaf.certPem);
      const r = await runCli(['verify', '--cert', path.join(d, 'll.pem'), '--ca', path.join(d, 'lr.pem')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
  });

  test('warnings keep exit 0: expiring within 30 days, root in the served chain; over 398 days under a private root is only a note', async () => {
    const m = await mintChain({ intermediates: 1, leaf: { days: 400 } });
    const r = await runCli([
      'verify',
      '--cert',
      m.files.bundle,
      '--key',
      m.files.key,
      '--ca',
      m.files.root,
      '--host',
      'localhost',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'lint.lifetime')).toEqual(['info']);
    expect(checkStatus(r.stdout, 'lint.root-in-chain')).toEqual(['warn']);
    const soon = await mintChain({
      intermediates: 1,
      leaf: { notBefore: new Date(Date.now() - 80 * 86400000), days: 90 },
    });
    const s = await verify(soon, ['--json']);
    expect(s.code).toBe(0);
    expect(checkStatus(s.stdout, 'lint.expiry-soon')).toEqual(['warn']);
  });

  test('wrong order in the cert file is tolerated and reported as a warning', async () => {
    const f = path.join(good.dir, 'reversed.pem');
    await writeFile(f, good.intermediates[0]!.certPem + good.leaf.certPem);
    const r = await runCli([
      'verify',
      '--cert',
      f,
      '--key',
      good.files.key,
      '--ca',
      good.files.root,
      '--host',
      'localhost',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'chain.order')).toEqual(['warn']);
  });
});

describe('verify output', () => {
  let m: MintedChain;
  beforeAll(async () => {
    m = await mintChain({ keyType: 'rsa', intermediates: 1, hosts: ['localhost'] });
  });

  test('--json prints one object: ok, checks, leaf, chain, failures, warnings', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      m.files.leaf,
      '--key',
      m.files.key,
      '--chain',
      m.files.chain,
      '--ca',
      m.files.root,
      '--host',
      'localhost',
      '--host',
      'nope.example',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(Object.keys(report).sort()).toEqual(['chain', 'checks', 'failures', 'leaf', 'ok', 'warnings']);
    expect(report.ok).toBe(false);
    expect(report.failures).toBe(report.checks.filter((c: { status: string }) => c.status === 'fail').length);
    expect(report.warnings).toBe(report.checks.filter((c: { status: string }) => c.status === 'warn').length);
    for (const c of report.checks) {
      expect(['pass', 'fail', 'warn', 'skip']).toContain(c.status);
      expect(typeof c.id).toBe('string');
      expect(typeof c.message).toBe('string');
    }
    const hostFail = report.checks.find((c: { id: string; status: string }) => c.id === 'host' && c.status === 'fail');
    expect(hostFail).toMatchObject({
      file: m.files.leaf,
      subject: 'CN=localhost',
      serial: expect.stringMatching(/^[0-9A-F]+$/),
    });
    expect(report.leaf).toMatchObject({
      subject: 'CN=localhost',
      dnsNames: ['localhost'],
      keyType: 'rsa',
      keyBits: 2048,
    });
    expect(report.chain.map((c: { subject: string }) => c.subject)).toEqual([
      'CN=localhost',
      'CN=Test Intermediate 1, O=xsoar-cert tests',
      'CN=Test Root CA, O=xsoar-cert tests',
    ]);
  });

  test('human output: one line per failure naming file and cert, the summary on stderr, nothing on stdout', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      m.files.leaf,
      '--chain',
      m.files.chain,
      '--ca',
      m.files.root,
      '--host',
      'nope.example',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const fails = r.stderr.split('\n').filter((l) => l.startsWith('✗ '));
    expect(fails).toEqual([
      expect.stringMatching(
        new RegExp(
          `^✗ ${m.files.leaf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: "localhost" \\(serial [0-9A-F]+…?\\) does not cover nope\\.example: .*; get a certificate that lists this name as a DNS SAN$`,
        ),
      ),
    ]);
    expect(r.stderr).toMatch(/not fit to serve: 1 check\(s\) failed/);
  });

  test('--no-tls skips both handshakes by id; a good chain still exits 0', async () => {
    const r = await runCli([
      'verify',
      '--cert',
      m.files.fullchain,
      '--key',
      m.files.key,
      '--ca',
      m.files.root,
      '--no-tls',
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'tls.1.2')).toEqual(['skip']);
    expect(checkStatus(r.stdout, 'tls.1.3')).toEqual(['skip']);
  });

  test('an encrypted key with --passphrase-file handshakes; a wrong passphrase is exit 3 without key bytes', async () => {
    const enc = createPrivateKey(await readFile(m.files.key, 'utf8'))
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'correct horse' })
      .toString();
    const encFile = path.join(m.dir, 'enc-key.pem');
    await writeFile(encFile, enc, { mode: 0o600 });
    const pass = path.join(m.dir, 'pass.txt');
    await writeFile(pass, 'correct horse\n', { mode: 0o600 });
    const r = await runCli([
      'verify',
      '--cert',
      m.files.fullchain,
      '--key',
      encFile,
      '--ca',
      m.files.root,
      '--passphrase-file',
      pass,
      '--json',
    ]);
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'tls.1.3')).toEqual(['pass']);
    await writeFile(pass, 'wrong\n');
    const bad = await runCli([
      'verify',
      '--cert',
      m.files.fullchain,
      '--key',
      encFile,
      '--ca',
      m.files.root,
      '--passphrase-file',
      pass,
    ]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/enc-key\.pem/);
    expect(bad.stderr + bad.stdout).not.toContain(enc.split('\n')[1]!);
  });

  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  (hasOpenssl ? test : test.skip)('a PKCS#12 as --cert brings its key and chain', async () => {
    const p12 = path.join(m.dir, 'bundle.p12');
    const made = spawnSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      m.files.fullchain,
      '-inkey',
      m.files.key,
      '-out',
      p12,
      '-passout',
      'pass:p12pass',
    ]);
    expect(made.status).toBe(0);
    const r = await runCli(['verify', '--cert', p12, '--ca', m.files.root, '--host', 'localhost', '--json'], {
      env: { XSOAR_CERT_PASSPHRASE: 'p12pass' },
    });
    expect(r.code).toBe(0);
    expect(checkStatus(r.stdout, 'key-match')).toEqual(['pass']);
    expect(checkStatus(r.stdout, 'tls.1.2')).toEqual(['pass']);
  });

  test('--cert is required (usage error, exit 2)', async () => {
    const r = await runCli(['verify', '--key', m.files.key]);
    expect(r.code).toBe(2);
  });
});

describe('verify input errors: one line, exit 3, no stack', () => {
  test.each([
    ['a missing file', async (d: string) => path.join(d, 'nope.pem'), /nope\.pem: no such file/],
    [
      'garbage',
      async (d: string) => {
        const f = path.join(d, 'g.pem');
        await writeFile(f, 'hello world');
        return f;
      },
      /no certificate or private key found/,
    ],
    [
      'a truncated PEM',
      async (d: string) => {
        const m = await mintChain({ intermediates: 0, dir: d });
        const f = path.join(d, 't.pem');
        await writeFile(f, m.leaf.certPem.slice(0, 200));
        return f;
      },
      /truncated/,
    ],
    [
      'a CSR',
      async (d: string) => {
        const f = path.join(d, 'csr.pem');
        await writeFile(f, '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n');
        return f;
      },
      /certificate signing request/,
    ],
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
