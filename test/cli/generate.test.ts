// `xsoar-cert generate` through the built binary, as a user runs it.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/run-cli.js';

const tmp = () => mkdtemp(path.join(tmpdir(), 'xsoar-cert-generate-'));
const keyBody = (file: string) => readFileSync(file, 'utf8').split('\n')[1]!.slice(0, 40);

describe('xsoar-cert generate', () => {
  test('--json lists the files with their modes and describes the certificate; no key bytes anywhere', async () => {
    const dir = await tmp();
    const r = await runCli([
      'generate',
      '--json',
      '--key-type',
      'ecdsa',
      '--curve',
      'P-384',
      '--days',
      '30',
      '--host',
      'tenant.example',
      '--host',
      '::1',
      '--out-dir',
      dir,
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      ok: true,
      ca: null,
      files: [
        { file: path.join(dir, 'tenant.example+1.pem'), kind: 'certificate', mode: '0644' },
        { file: path.join(dir, 'tenant.example+1-key.pem'), kind: 'private key', mode: '0600' },
      ],
      certificate: {
        subject: 'CN=tenant.example',
        dnsNames: ['tenant.example'],
        ipAddresses: ['::1'],
        keyType: 'ecdsa',
        curve: 'P-384',
        daysLeft: 29,
        isCA: false,
        eku: ['serverAuth'],
      },
    });
    expect(statSync(path.join(dir, 'tenant.example+1.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(dir, 'tenant.example+1-key.pem')).mode & 0o777).toBe(0o600);
    expect(r.stdout + r.stderr).not.toContain(keyBody(path.join(dir, 'tenant.example+1-key.pem')));
    expect(r.stderr).toBe('');
  });

  test('--ca: openssl verifies the leaf against rootCA.pem for the host; hints name the verify command', async () => {
    const dir = path.join(await tmp(), 'nested', 'certs'); // --out-dir is created
    const r = await runCli([
      'generate',
      '--ca',
      '--host',
      'app.internal',
      '--host',
      '10.2.3.4',
      '--key-type',
      'ecdsa',
      '--out-dir',
      dir,
    ]);
    expect(r.code).toBe(0);
    const leaf = path.join(dir, 'app.internal+1.pem');
    const out = execFileSync(
      'openssl',
      ['verify', '-CAfile', path.join(dir, 'rootCA.pem'), '-verify_ip', '10.2.3.4', '-purpose', 'sslserver', leaf],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/: OK/);
    expect(statSync(path.join(dir, 'rootCA-key.pem')).mode & 0o777).toBe(0o600);
    expect(r.stderr).toContain(
      `xsoar-cert verify --cert ${leaf} --key ${path.join(dir, 'app.internal+1-key.pem')} --ca ${path.join(dir, 'rootCA.pem')}`,
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(4); // CA cert, CA key, leaf cert, leaf key
  });

  test('--ca refuses a rootCA.pem whose key is missing or does not match (exit 3), writing nothing', async () => {
    const dir = await tmp();
    expect((await runCli(['generate', '--ca', '--host', 'a.test', '--key-type', 'ecdsa', '--out-dir', dir])).code).toBe(
      0,
    );
    const other = await tmp();
    expect(
      (await runCli(['generate', '--ca', '--host', 'b.test', '--key-type', 'ecdsa', '--out-dir', other])).code,
    ).toBe(0);
    writeFileSync(path.join(dir, 'rootCA-key.pem'), readFileSync(path.join(other, 'rootCA-key.pem')));
    const r = await runCli(['generate', '--ca', '--host', 'c.test', '--key-type', 'ecdsa', '--out-dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/rootCA-key\.pem: does not match .*rootCA\.pem/);
    expect(existsSync(path.join(dir, 'c.test.pem'))).toBe(false);
  });

  test("a wildcard host gets mkcert's _wildcard file name; existing cert file refused with exit 2 and no key left behind", async () => {
    const dir = await tmp();
    expect((await runCli(['generate', '--host', '*.apps.example', '--key-type', 'ecdsa', '--out-dir', dir])).code).toBe(
      0,
    );
    const cert = new X509Certificate(readFileSync(path.join(dir, '_wildcard.apps.example.pem')));
    expect(cert.subjectAltName).toBe('DNS:*.apps.example');
    // Only the certificate exists: the key is written first, so nothing may be overwritten.
    const d2 = await tmp();
    writeFileSync(path.join(d2, 'x.test.pem'), 'mine');
    const r = await runCli(['generate', '--host', 'x.test', '--key-type', 'ecdsa', '--out-dir', d2]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/x\.test\.pem already exists: not overwriting it\n\s+Pass --force/);
    expect(readFileSync(path.join(d2, 'x.test.pem'), 'utf8')).toBe('mine');
    expect(existsSync(path.join(d2, 'x.test-key.pem'))).toBe(false);
  });

  test.each([
    [['--host', 'bad host!'], /--host "bad host!" is neither a DNS name nor an IP address/],
    [['--host', 'a.test', '--days', '0'], /--days must be a whole number from 1 to 3650/],
    [['--host', 'a.test', '--curve', 'P-521'], /--curve must be P-256 or P-384/],
    [['--host', 'a.test', '--bits', '1024'], /--bits must be 2048, 3072 or 4096/],
  ])('usage error %j → exit 2, one message line', async (args, msg) => {
    const r = await runCli(['generate', ...args, '--out-dir', await tmp()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('--help shows examples and exit codes', async () => {
    const r = await runCli(['generate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/EXAMPLES[\s\S]*xsoar-cert generate --host[\s\S]*EXIT CODES/);
  });

  test('--ca with a dev CA file that cannot be read: exit 3 naming it, no new CA made over it, no leaf written', async () => {
    const dir = await tmp();
    const { mkdirSync, readdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'rootCA.pem')); // EISDIR, even for root
    const r = await runCli(['generate', '--ca', '--host', 'a.example', '--out-dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/rootCA\.pem: cannot read the dev CA \(EISDIR\)/);
    expect(readdirSync(dir)).toEqual(['rootCA.pem']);
  });
});

describe('finding 14: the folder holding the dev CA key', () => {
  /** Runs the CLI with this umask (the child inherits it at spawn). */
  function withUmask(mask: number, args: string[]) {
    const old = process.umask(mask);
    try {
      return runCli(args);
    } finally {
      process.umask(old);
    }
  }

  test('finding 14: under umask 000 a new --out-dir is 0700 and the keys 0600', async () => {
    const dir = path.join(await tmp(), 'new', 'dev-certs');
    const r = await withUmask(0o000, ['generate', '--ca', '--host', 'a.test', '--key-type', 'ecdsa', '--out-dir', dir]);
    expect(r.code).toBe(0);
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(path.join(dir, 'rootCA-key.pem')).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(path.join(dir, 'a.test-key.pem')).mode & 0o777).toString(8)).toBe('600');
    // A umask that takes the owner's write bit away still leaves a folder generate can write to.
    const narrow = path.join(await tmp(), 'narrow');
    expect(
      (await withUmask(0o277, ['generate', '--host', 'b.test', '--key-type', 'ecdsa', '--out-dir', narrow])).code,
    ).toBe(0);
    expect((statSync(narrow).mode & 0o777).toString(8)).toBe('700');
  });

  test('finding 14: a group- or other-writable folder is refused (exit 3 naming it) and its mode left alone', async () => {
    const { chmodSync } = await import('node:fs');
    for (const mode of [0o777, 0o770, 0o1777]) {
      const dir = await tmp();
      chmodSync(dir, mode);
      const r = await runCli(['generate', '--ca', '--host', 'a.test', '--key-type', 'ecdsa', '--out-dir', dir]);
      expect({ code: r.code, first: r.stderr.split('\n')[0] }).toEqual({
        code: 3,
        first: expect.stringContaining(`${dir}: group or others may write to it`),
      });
      expect(statSync(dir).mode & 0o7777).toBe(mode);
      expect(existsSync(path.join(dir, 'rootCA-key.pem'))).toBe(false);
    }
  });

  test("finding 14: another user's folder is refused before its dev CA pair is read", async () => {
    if (process.getuid?.() !== 0) return; // needs root to hand a folder to another user
    const { chownSync } = await import('node:fs');
    const dir = await tmp();
    expect((await runCli(['generate', '--ca', '--host', 'a.test', '--key-type', 'ecdsa', '--out-dir', dir])).code).toBe(
      0,
    );
    chownSync(dir, 65534, 65534); // nobody
    const r = await runCli(['generate', '--ca', '--host', 'b.test', '--key-type', 'ecdsa', '--out-dir', dir]);
    expect({ code: r.code, first: r.stderr.split('\n')[0] }).toEqual({
      code: 3,
      first: expect.stringContaining(`${dir}: belongs to another user (uid 65534)`),
    });
    expect(existsSync(path.join(dir, 'b.test.pem'))).toBe(false);
  });
});
