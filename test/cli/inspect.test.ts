// `xsoar-cert inspect` through the built binary.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/run-cli.js';
import { mintChain } from '../helpers/test-ca.js';
import { issueCertificate } from '../../src/pki/generate.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'malformed');

describe('xsoar-cert inspect', () => {
  test('text output: every field for every certificate, and which certificate a key in another file matches', async () => {
    const m = await mintChain({ keyType: 'rsa', intermediates: 1, hosts: ['i.example.com', '10.9.8.7'] });
    const r = await runCli(['inspect', m.files.fullchain, m.files.key]);
    expect(r.code).toBe(0);
    const leaf = new X509Certificate(m.leaf.certPem);
    expect(r.stdout).toContain(`${m.files.fullchain} #1: CN=i.example.com`);
    expect(r.stdout).toContain(`${m.files.fullchain} #2: CN=Test Intermediate 1, O=xsoar-cert tests`);
    expect(r.stdout).toMatch(/names:\s+DNS:i\.example\.com, IP:10\.9\.8\.7/);
    expect(r.stdout).toMatch(/\((89|90) days left\)/);
    expect(r.stdout).toMatch(/key:\s+rsa 2048\s+signature: sha256WithRSAEncryption/);
    expect(r.stdout).toContain(`serial:      ${leaf.serialNumber}`);
    expect(r.stdout).toContain(`sha256:      ${leaf.fingerprint256}`);
    expect(r.stdout).toMatch(/usage:\s+end entity, digitalSignature, keyEncipherment, serverAuth/);
    expect(r.stdout).toMatch(/usage:\s+CA, keyCertSign, cRLSign/);
    expect(r.stdout).toContain(
      `${m.files.key}: private key rsa 2048 (pkcs8), matches CN=i.example.com in ${m.files.fullchain}`,
    );
    expect(r.stdout + r.stderr).not.toContain(readFileSync(m.files.key, 'utf8').split('\n')[1]!.slice(0, 40));
  });

  test('an expired certificate says how long ago; a lone key says it matches nothing', async () => {
    const m = await mintChain({ intermediates: 0 });
    const old = await issueCertificate({
      subject: 'old.test',
      notBefore: new Date(Date.now() - 40 * 86_400_000),
      days: 10,
      key: { type: 'ecdsa' },
    });
    const f = path.join(m.dir, 'old.pem');
    writeFileSync(f, old.certPem);
    const r = await runCli(['inspect', f]);
    expect(r.stdout).toMatch(/\(expired 30 days ago\)/);
    const k = await runCli(['inspect', m.files.key]);
    expect(k.stdout).toMatch(/private key ecdsa 256 P-256 \(pkcs8\), matches none of the certificates given/);
  });

  test('--json for several files is an array; PKCS#12 read with XSOAR_CERT_PASSPHRASE', async () => {
    const m = await mintChain({ keyType: 'ecdsa', intermediates: 1 });
    const pass = path.join(m.dir, 'p.txt');
    writeFileSync(pass, 'pfx\n');
    const p12 = path.join(m.dir, 'a.pfx');
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      m.files.fullchain,
      '-inkey',
      m.files.key,
      '-passout',
      `file:${pass}`,
      '-out',
      p12,
    ]);
    const r = await runCli(['inspect', '--json', p12, m.files.root], { env: { XSOAR_CERT_PASSPHRASE: 'pfx' } });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.map((x: { file: string }) => x.file)).toEqual([p12, m.files.root]);
    expect(j[0].certificates).toHaveLength(2);
    expect(j[0].keys).toEqual([
      {
        source: p12,
        format: 'pkcs12',
        encrypted: false,
        keyType: 'ecdsa',
        keyBits: 256,
        curve: 'P-256',
        matches: 'CN=localhost',
        matchesFile: p12,
      },
    ]);
    expect(j[1].certificates[0]).toMatchObject({ isCA: true, selfSigned: true, keyUsage: ['keyCertSign', 'cRLSign'] });
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
  });

  test('an encrypted key without a passphrase (no TTY): exit 3 naming the flag; wrong one: exit 3', async () => {
    const m = await mintChain({ intermediates: 0 });
    const pass = path.join(m.dir, 'p.txt');
    writeFileSync(pass, 'right\n');
    const enc = path.join(m.dir, 'enc.pem');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', m.files.key, '-passout', `file:${pass}`, '-out', enc]);
    const none = await runCli(['inspect', enc], { env: { XSOAR_CERT_PASSPHRASE: '' } });
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(
      `xsoar-cert: ${enc}: the private key is encrypted and no passphrase was given\n  Pass --passphrase-file FILE or set XSOAR_CERT_PASSPHRASE (never on the command line).\n`,
    );
    const ok = await runCli(['inspect', enc, '--passphrase-file', pass]);
    expect(ok.stdout).toMatch(/private key ecdsa 256 P-256 \(pkcs8-encrypted\)/);
    writeFileSync(pass, 'wrong\n');
    const bad = await runCli(['inspect', enc, '--passphrase-file', pass]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(
      /enc\.pem: wrong passphrase[^\n]*\n\s+Check the passphrase in --passphrase-file \/ XSOAR_CERT_PASSPHRASE/,
    );
  });

  test('a CSR is described by inspect (and stays "a certificate signing request, not a certificate" for verify)', async () => {
    const csr = path.join(FIX, 'csr.pem');
    const r = await runCli(['inspect', csr]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/csr\.pem: certificate signing request \(PKCS#10\)/);
    expect(r.stdout).toMatch(/signature: .* \(verifies\)/);
    const j = JSON.parse((await runCli(['inspect', csr, '--json'])).stdout);
    expect(j.request).toMatchObject({
      kind: 'certificate signing request',
      signatureValid: true,
      pendingRequest: null,
    });
    const v = await runCli(['verify', '--cert', csr, '--no-tls']);
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(
      /csr\.pem: contains a certificate signing request \(CSR\), not a certificate: send it to your CA/,
    );
  });

  test.each(['not-a-cert.txt', 'truncated.pem', 'truncated.der'])(
    'malformed %s: exit 3, one line naming the file, no stack',
    async (name) => {
      const r = await runCli(['inspect', path.join(FIX, name)]);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^xsoar-cert: .*${name.replace('.', '\\.')}: `));
      expect(r.stderr).not.toMatch(/\n\s+at /);
    },
  );

  test('a missing file: exit 3; --json error object on stdout', async () => {
    const r = await runCli(['inspect', '/no/such.pem', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { message: '/no/such.pem: no such file', exitCode: 3 },
    });
  });
});
