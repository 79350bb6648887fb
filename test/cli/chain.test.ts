// `xsoar-cert chain` through the built binary.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/run-cli.js';
import { mintChain } from '../helpers/test-ca.js';

const subjectsOf = (pem: string) =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => /CN=([^\n]*)/.exec(new X509Certificate(m[0]).subject)![1],
  );

describe('xsoar-cert chain', () => {
  test('--json: ordered chain, root, dropped with reasons, and the PEM; stdout is only the JSON', async () => {
    const m = await mintChain({ intermediates: 1 });
    const mixed = path.join(m.dir, 'mixed.pem');
    writeFileSync(mixed, m.root.certPem + m.leaf.certPem + m.root.certPem + m.intermediates[0]!.certPem);
    const r = await runCli(['chain', mixed, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.leafBy).toBe('issues-nothing');
    expect(j.chain.map((c: { subject: string }) => c.subject)).toEqual([
      'CN=localhost',
      'CN=Test Intermediate 1, O=xsoar-cert tests',
      'CN=Test Root CA, O=xsoar-cert tests',
    ]);
    expect(j.root.source).toBe(mixed);
    expect(j.dropped).toEqual([
      {
        source: mixed,
        subject: 'CN=Test Root CA, O=xsoar-cert tests',
        serial: expect.stringMatching(/^[0-9A-F]+$/),
        reason: 'duplicate',
        why: 'a duplicate of a certificate given earlier',
      },
    ]);
    expect(j.missingIssuer).toBeNull();
    expect(subjectsOf(j.pem)).toEqual(['localhost', 'Test Intermediate 1', 'Test Root CA']);
  });

  test('PKCS#12 input with --passphrase-file: the key inside picks the leaf; no key bytes in the output', async () => {
    const m = await mintChain({ intermediates: 1, keyType: 'ecdsa' });
    const pass = path.join(m.dir, 'pass.txt');
    writeFileSync(pass, 'p12-secret\n');
    const p12 = path.join(m.dir, 'tenant.p12');
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      m.files.bundle,
      '-inkey',
      m.files.key,
      '-passout',
      `file:${pass}`,
      '-out',
      p12,
    ]);
    const r = await runCli(['chain', p12, '--no-root', '--passphrase-file', pass]);
    expect(r.code).toBe(0);
    expect(subjectsOf(r.stdout)).toEqual(['localhost', 'Test Intermediate 1']);
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect(r.stdout + r.stderr).not.toContain(readFileSync(m.files.key, 'utf8').split('\n')[1]!.slice(0, 40));
    const wrong = path.join(m.dir, 'wrong.txt');
    writeFileSync(wrong, 'nope\n');
    const w = await runCli(['chain', p12, '--passphrase-file', wrong]);
    expect(w.code).toBe(3);
    expect(w.stderr).toMatch(/tenant\.p12: wrong passphrase \(the PKCS#12 file could not be decrypted/);
    const none = await runCli(['chain', p12], { env: { XSOAR_CERT_PASSPHRASE: '' } });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no passphrase was given\n\s+Pass --passphrase-file FILE or set XSOAR_CERT_PASSPHRASE/);
  });

  test('a root only in the system trust store (SSL_CERT_FILE) completes leaf + intermediates', async () => {
    const m = await mintChain({ intermediates: 2 });
    const r = await runCli(['chain', m.files.fullchain], { env: { SSL_CERT_FILE: m.files.root } });
    expect(r.code).toBe(0);
    expect(subjectsOf(r.stdout)).toEqual(['localhost', 'Test Intermediate 2', 'Test Intermediate 1', 'Test Root CA']);
    expect(r.stderr).toMatch(/root: "Test Root CA" .*\(from the system trust store\)/);
    const noRoot = await runCli(['chain', m.files.fullchain, '--no-root'], { env: { SSL_CERT_FILE: m.files.root } });
    expect([noRoot.code, subjectsOf(noRoot.stdout)]).toEqual([
      0,
      ['localhost', 'Test Intermediate 2', 'Test Intermediate 1'],
    ]);
  });

  test('missing link with --out: exit 1, names the issuer, writes nothing', async () => {
    const m = await mintChain({ intermediates: 2 });
    const out = path.join(m.dir, 'tls.crt');
    const r = await runCli(['chain', m.files.leaf, m.files.root, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the issuer "CN=Test Intermediate 2, O=xsoar-cert tests" \(AKI [0-9A-F]{40}\) is missing; nothing was written to .*tls\.crt/,
    );
    expect(existsSync(out)).toBe(false);
  });

  test('--out refuses to overwrite (exit 2) unless --force', async () => {
    const m = await mintChain({ intermediates: 1 });
    const out = path.join(m.dir, 'tls.crt');
    writeFileSync(out, 'old');
    const r = await runCli(['chain', m.files.bundle, '--out', out]);
    expect(r.code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('old');
    const f = await runCli(['chain', m.files.bundle, '--out', out, '--force']);
    expect(f.code).toBe(0);
    expect(subjectsOf(readFileSync(out, 'utf8'))).toEqual(['localhost', 'Test Intermediate 1', 'Test Root CA']);
  });

  test('--key that matches no certificate → exit 1; a keys-only input and a CSR → exit 3', async () => {
    const m = await mintChain({ intermediates: 0 });
    const other = await mintChain({ intermediates: 0 });
    const r = await runCli(['chain', m.files.bundle, '--key', other.files.key]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/leaf-key\.pem: this key matches none of the certificates given/);
    expect((await runCli(['chain', m.files.key])).code).toBe(3);
    const csr = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'malformed', 'csr.pem');
    const c = await runCli(['chain', m.files.leaf, csr]);
    expect(c.code).toBe(3);
    expect(c.stderr.split('\n')[0]).toMatch(/csr\.pem: contains a certificate signing request/);
  });
});
