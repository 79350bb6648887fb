import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { runCli } from '../helpers/run-cli.js';
import { mintChain } from '../helpers/test-ca.js';

const tmp = () => mkdtemp(path.join(tmpdir(), 'xsoar-cert-gen-'));

describe('generate', () => {
  test('self-signed RSA 2048 by default: SANs for every host, serverAuth, CA:FALSE, key 0600', async () => {
    const dir = await tmp();
    const r = await runCli(['generate', '--host', 'xsoar.example.com', '--host', '10.0.0.5', '--out-dir', dir]);
    expect(r.code).toBe(0);
    const cert = new X509Certificate(readFileSync(path.join(dir, 'xsoar.example.com+1.pem')));
    expect(cert.subjectAltName).toBe('DNS:xsoar.example.com, IP Address:10.0.0.5');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(statSync(path.join(dir, 'xsoar.example.com+1-key.pem')).mode & 0o777).toBe(0o600);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
  });

  test('--ca makes a dev CA, reuses it on the next run, and the leaf verifies against it', async () => {
    const dir = await tmp();
    const a = await runCli(['generate', '--ca', '--key-type', 'ecdsa', '--host', 'localhost', '--out-dir', dir]);
    expect(a.code).toBe(0);
    const ca1 = readFileSync(path.join(dir, 'rootCA.pem'), 'utf8');
    const b = await runCli(['generate', '--ca', '--host', 'other.local', '--out-dir', dir]);
    expect(b.code).toBe(0);
    expect(readFileSync(path.join(dir, 'rootCA.pem'), 'utf8')).toBe(ca1);
    expect(statSync(path.join(dir, 'rootCA-key.pem')).mode & 0o777).toBe(0o600);
    const v = await runCli([
      'verify',
      '--cert',
      path.join(dir, 'other.local.pem'),
      '--key',
      path.join(dir, 'other.local-key.pem'),
      '--ca',
      path.join(dir, 'rootCA.pem'),
      '--host',
      'other.local',
    ]);
    expect(v.code).toBe(0);
  });

  test('never overwrites without --force; --force replaces', async () => {
    const dir = await tmp();
    await runCli(['generate', '--host', 'a.test', '--out-dir', dir, '--key-type', 'ecdsa']);
    const before = readFileSync(path.join(dir, 'a.test-key.pem'), 'utf8');
    const again = await runCli(['generate', '--host', 'a.test', '--out-dir', dir, '--key-type', 'ecdsa']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/a\.test-key\.pem already exists: not overwriting it/);
    expect(readFileSync(path.join(dir, 'a.test-key.pem'), 'utf8')).toBe(before);
    const forced = await runCli(['generate', '--host', 'a.test', '--out-dir', dir, '--key-type', 'ecdsa', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(path.join(dir, 'a.test-key.pem'), 'utf8')).not.toBe(before);
    expect(statSync(path.join(dir, 'a.test-key.pem')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('usage errors: no host, bad key type, bad bits', async () => {
    expect((await runCli(['generate'])).code).toBe(2);
    expect((await runCli(['generate', '--host', 'x', '--key-type', 'dsa'])).stderr).toMatch(
      /--key-type must be rsa or ecdsa/,
    );
    expect((await runCli(['generate', '--host', 'x', '--bits', '1024'])).code).toBe(2);
  });
});

describe('chain', () => {
  test('orders a shuffled bundle and reports duplicates and strangers on stderr', async () => {
    const m = await mintChain({ intermediates: 2 });
    const other = await mintChain({ intermediates: 0 });
    const mixed = path.join(m.dir, 'mixed.pem');
    writeFileSync(
      mixed,
      m.root.certPem +
        m.intermediates[1]!.certPem +
        other.leaf.certPem +
        m.intermediates[0]!.certPem +
        m.intermediates[0]!.certPem,
    );
    const r = await runCli(['chain', mixed, m.files.leaf, '--key', m.files.key]);
    expect(r.code).toBe(0);
    const out = [...r.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
      (x) => new X509Certificate(x[0]).subject,
    );
    expect(out.map((s) => /CN=([^\n]*)/.exec(s)![1])).toEqual([
      'localhost',
      'Test Intermediate 2',
      'Test Intermediate 1',
      'Test Root CA',
    ]);
    expect(r.stderr).toMatch(/dropped .*mixed\.pem: "Test Intermediate 2".*a duplicate|dropped .*a duplicate/);
    expect(r.stderr).toMatch(/not part of this chain/);
  });

  test('a missing link exits 1 naming the issuer', async () => {
    const m = await mintChain({ intermediates: 2 });
    const r = await runCli(['chain', m.files.leaf, m.files.root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the issuer "CN=Test Intermediate 2, O=xsoar-cert tests" \(AKI [0-9A-F]+\) is missing/);
  });

  test('--no-root --out writes what a server sends', async () => {
    const m = await mintChain({ intermediates: 1 });
    const out = path.join(m.dir, 'tls.crt');
    const r = await runCli(['chain', m.files.bundle, '--no-root', '--out', out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(m.leaf.certPem + m.intermediates[0]!.certPem);
  });
});

describe('inspect', () => {
  test('JSON: every certificate with names, validity, key, fingerprint; keys described, never printed', async () => {
    const m = await mintChain({ keyType: 'rsa', intermediates: 1, hosts: ['t.example.com', '10.1.1.1'] });
    const both = path.join(m.dir, 'both.pem');
    writeFileSync(both, m.leaf.certPem + m.intermediates[0]!.certPem + m.leaf.keyPem);
    const r = await runCli(['inspect', both, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.certificates).toHaveLength(2);
    expect(j.certificates[0]).toMatchObject({
      dnsNames: ['t.example.com'],
      ipAddresses: ['10.1.1.1'],
      keyType: 'rsa',
      keyBits: 2048,
      eku: ['serverAuth'],
      isCA: false,
    });
    expect(j.certificates[0].sha256).toBe(new X509Certificate(m.leaf.certPem).fingerprint256);
    expect(j.keys[0]).toMatchObject({ keyType: 'rsa', keyBits: 2048, matches: 'CN=t.example.com' });
    expect(r.stdout).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{60}/);
  });
});
