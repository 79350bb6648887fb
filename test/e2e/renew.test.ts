// renew against the sandbox with the real kubectl: skip a fresh cert, renew an expiring one
// from a folder and self-signed, refuse an older or invalid one, hold the lock.
import { mkdtemp, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

const DAY = 86400_000;
let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
});
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const renew = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(['renew', ...targetArgs(t()), '--quiet', ...args], {
    env: { ...sb.env, ...env },
  });

/** Install a leaf that is `ageDays` into a `lifeDays` lifetime, signed by `m`'s CA. */
async function installAged(lifeDays: number, ageDays: number) {
  const m = await mintChain({
    intermediates: 1,
    hosts: ['localhost', '127.0.0.1'],
    leaf: { notBefore: new Date(Date.now() - ageDays * DAY), days: lifeDays },
  });
  const r = await runCli(installArgs(m, [...targetArgs(t()), '--allow-name-change', '--yes', '--quiet']), {
    env: sb.env,
  });
  expect({ code: r.code, stderr: r.code ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
  return m;
}

test('a fresh certificate is skipped with exit 0 and says why; nothing changes', async () => {
  await installAged(90, 10);
  const before = await sb.servedCert(t().endpoint);
  const r = await renew(['--self-signed']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/nothing to do: .* expires in \d+ days; due from/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before.sha256);
});

test('an expiring certificate is renewed from the drop folder; older and invalid candidates are refused', async () => {
  const installed = await installAged(90, 80);
  const drop = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-drop-'));
  // An older one (expires before the installed one), a broken one (wrong key), and the good one.
  const older = await mintChain({
    intermediates: 0,
    hosts: ['localhost', '127.0.0.1'],
    leaf: { notBefore: new Date(Date.now() - 85 * DAY), days: 90 },
  });
  await copyFile(older.files.leaf, path.join(drop, 'a-older.pem'));
  await copyFile(older.files.key, path.join(drop, 'a-older-key.pem'));
  const fresh = await mintChain({ intermediates: 0, hosts: ['localhost', '127.0.0.1'], leaf: { days: 90 } });
  await copyFile(fresh.files.leaf, path.join(drop, 'b-new.pem'));
  await copyFile(fresh.files.key, path.join(drop, 'b-new-key.pem'));
  // The CA for verify: both roots in one file.
  const ca = path.join(drop, '..', `ca-${path.basename(drop)}.pem`);
  await writeFile(ca, fresh.root.certPem + older.root.certPem + installed.root.certPem);
  const r = await runCli(['renew', ...targetArgs(t()), '--from', drop, '--ca', ca], { env: sb.env });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/skipped .*a-older\.pem: is not newer than the installed one/);
  expect(r.stdout).toMatch(/renewed .* from .*b-new\.pem/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(fresh));
});

test('a folder with nothing usable fails with exit 3 and keeps the installed certificate', async () => {
  await installAged(90, 80);
  const before = await sb.servedCert(t().endpoint);
  const drop = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-drop-'));
  await writeFile(path.join(drop, 'junk.pem'), 'not a certificate');
  // Its own state dir: the failure starts a backoff (issue 18) that the next tests' cron-like runs would respect.
  const r = await renew(['--from', drop], {
    XSOAR_CERT_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'xsoar-cert-state-')),
  });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/no certificate found|valid and newer/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before.sha256);
});

test('self-signed renewal keeps the names; works with HOME unset and no TTY', async () => {
  await installAged(30, 25);
  const before = await sb.servedCert(t().endpoint);
  const r = await renew(['--self-signed'], { HOME: '' });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/renewed .* from self-signed/);
  const after = await sb.servedCert(t().endpoint);
  expect(after.sha256).not.toBe(before.sha256);
  expect(after.pem).toBeDefined();
});

test('a second run while the lock is held fails cleanly with exit 7 and names the holder', async () => {
  const lockDir = path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'locks');
  await mkdir(lockDir, { recursive: true });
  // A live process (this test runner) holds the lock, taken a minute ago (a local lock older than 6 h is stale whoever holds it).
  const since = new Date(Date.now() - 60_000).toISOString();
  await writeFile(
    path.join(lockDir, `${t().namespace}__${t().secret}.lock`),
    JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), since, op: 'renew' }),
  );
  const r = await renew(['--self-signed', '--force']);
  expect(r.code).toBe(7);
  expect(r.stderr).toMatch(
    new RegExp(
      `another xsoar-cert run \\(renew, pid \\d+.*\\) holds the lock for .* since ${since.replace(/\./g, '\\.')}`,
    ),
  );
  // A dead holder's lock is taken over.
  await writeFile(
    path.join(lockDir, `${t().namespace}__${t().secret}.lock`),
    JSON.stringify({
      pid: 999999,
      host: (await import('node:os')).hostname(),
      since: '2026-01-01T00:00:00.000Z',
      op: 'renew',
    }),
  );
  const r2 = await renew(['--self-signed', '--force']);
  expect(r2.code).toBe(0);
});

test('--print-cron prints one crontab line with absolute paths and a log file', async () => {
  const r = await runCli(['renew', '--self-signed', '-n', 'tenant-3', '--print-cron'], { env: sb.env });
  expect(r.code).toBe(0);
  const line = r.stdout.trim();
  expect(line.split('\n')).toHaveLength(1);
  expect(line).toMatch(
    /^\d{1,2} [1-5] \* \* \* PATH=\S+ .*\/node \/\S+\/bin\/xsoar-cert\.js renew --self-signed -n tenant-3 .*>> \/\S+renew\.log 2>&1$/,
  );
});

test('an encrypted key in the drop folder is read with --passphrase-file (never a prompt); files that are not usable are named', async () => {
  await installAged(90, 80);
  const drop = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-drop-'));
  const fresh = await mintChain({ intermediates: 0, hosts: ['localhost', '127.0.0.1'], leaf: { days: 90 } });
  await copyFile(fresh.files.leaf, path.join(drop, 'new.pem'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('openssl', [
    'pkcs8',
    '-topk8',
    '-in',
    fresh.files.key,
    '-out',
    path.join(drop, 'new-key.pem'),
    '-passout',
    'pass:drop-secret',
    '-v2',
    'aes-256-cbc',
  ]);
  await writeFile(path.join(drop, 'README.txt'), 'certificates go here');
  const orphan = await mintChain({ intermediates: 0, hosts: ['localhost'], leaf: { days: 90 } });
  await copyFile(orphan.files.leaf, path.join(drop, 'orphan.pem')); // its key was never dropped
  const pass = path.join(drop, '..', `pass-${path.basename(drop)}.txt`);
  await writeFile(pass, 'drop-secret\n', { mode: 0o600 });
  const ca = path.join(drop, '..', `ca2-${path.basename(drop)}.pem`);
  await writeFile(ca, fresh.root.certPem);
  const r = await runCli(
    [
      'renew',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--endpoint',
      t().endpoint,
      '--from',
      drop,
      '--ca',
      ca,
      '--passphrase-file',
      pass,
    ],
    { env: sb.env },
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/renewed .* from .*new\.pem/);
  expect(r.stderr).toMatch(/skipped .*README\.txt: /);
  expect(r.stderr).toMatch(
    /skipped .*orphan\.pem: no key in the folder \(nor a pending request\) matches this certificate/,
  );
  // The files that were used are named too, with their role.
  expect(r.stderr).toMatch(/new\.pem: 1 leaf certificate: the new certificate/);
  expect(r.stderr).toMatch(/new-key\.pem: a private key \(ecdsa P-256\): its key/);
  expect(r.stderr + r.stdout).not.toContain('drop-secret');
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(fresh));
});

const { X509Certificate } = await import('node:crypto');
const pemCerts = (pem: string) =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => new X509Certificate(m[0]).fingerprint256,
  );

test('a split drop folder (leaf, a .p7b of its intermediates, the key: any names) is assembled, installed and served with its chain', async () => {
  await installAged(90, 80);
  const drop = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-split-'));
  const fresh = await mintChain({ intermediates: 2, hosts: ['localhost', '127.0.0.1'], leaf: { days: 90 } });
  await copyFile(fresh.files.leaf, path.join(drop, 'xsoar_example_com.crt'));
  await copyFile(fresh.files.key, path.join(drop, 'private.key'));
  const { execFileSync } = await import('node:child_process');
  // The intermediates as a DER PKCS#7, as CA portals and Windows ADCS deliver them.
  execFileSync('openssl', [
    'crl2pkcs7',
    '-nocrl',
    '-certfile',
    fresh.files.chain,
    '-outform',
    'DER',
    '-out',
    path.join(drop, 'ca-bundle.p7b'),
  ]);
  const ca = path.join(drop, '..', `ca-split-${path.basename(drop)}.pem`);
  await writeFile(ca, fresh.root.certPem);
  const r = await runCli(
    [
      'renew',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--endpoint',
      t().endpoint,
      '--from',
      drop,
      '--ca',
      ca,
      '--host',
      'localhost',
      '--json',
    ],
    { env: sb.env },
  );
  expect({ code: r.code, stderr: r.code ? r.stderr + r.stdout : '' }).toEqual({ code: 0, stderr: '' });
  const j = JSON.parse(r.stdout);
  expect(j.action).toBe('renewed');
  // --json carries what the text prints: every file with its role.
  const roles = Object.fromEntries(
    j.files.map((f: { file: string; used: boolean; why: string }) => [path.basename(f.file), `${f.used}:${f.why}`]),
  );
  expect(roles).toEqual({
    'ca-bundle.p7b': 'true:its intermediate(s)',
    'private.key': 'true:its key',
    'xsoar_example_com.crt': 'true:the new certificate',
  });
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(fresh.leaf.certPem));
  const data = await sb.secretData(t().namespace, t().secret);
  const chain = pemCerts(Buffer.from(data!['tls.crt']!, 'base64').toString());
  expect(chain).toEqual([fp(fresh.leaf.certPem), ...fresh.intermediates.map((i) => fp(i.certPem))]); // leaf-side first
});

test("certbot's live/NAME layout (symlinks into archive/) is installed with its chain; fullchain.pem is recognised as the same certificates", async () => {
  await installAged(90, 80);
  const le = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-letsencrypt-'));
  const fresh = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'], leaf: { days: 90 } });
  const archive = path.join(le, 'archive', 'xsoar.example.com');
  const live = path.join(le, 'live', 'xsoar.example.com');
  await mkdir(archive, { recursive: true });
  await mkdir(live, { recursive: true });
  const { symlink, readFile: rf } = await import('node:fs/promises');
  const pieces: [string, string][] = [
    ['cert', fresh.files.leaf],
    ['chain', fresh.files.chain],
    ['fullchain', fresh.files.fullchain],
    ['privkey', fresh.files.key],
  ];
  for (const [name, src] of pieces) {
    await writeFile(path.join(archive, `${name}1.pem`), await rf(src), { mode: name === 'privkey' ? 0o600 : 0o644 });
    await symlink(`../../archive/xsoar.example.com/${name}1.pem`, path.join(live, `${name}.pem`));
  }
  await writeFile(path.join(live, 'README'), 'This directory contains your keys and certificates.\n');
  const ca = path.join(le, 'root.pem');
  await writeFile(ca, fresh.root.certPem);
  const r = await runCli(['renew', ...targetArgs(t()), '--from', live, '--ca', ca], { env: sb.env });
  expect({ code: r.code, out: r.code ? r.stderr : '' }).toEqual({ code: 0, out: '' });
  expect(r.stdout).toMatch(/renewed .* from .*live\/xsoar\.example\.com\/cert\.pem/);
  expect(r.stderr).toMatch(/chain\.pem: 1 CA certificate: its intermediate\(s\)/);
  expect(r.stderr).toMatch(
    /fullchain\.pem: 1 leaf certificate and 1 CA certificate: the same certificates as the files used/,
  );
  expect(r.stderr).toMatch(/privkey\.pem: a private key .*: its key/);
  expect(r.stderr).toMatch(/skipped .*README: no certificate or private key found/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(fresh.leaf.certPem));
  const data = await sb.secretData(t().namespace, t().secret);
  expect(pemCerts(Buffer.from(data!['tls.crt']!, 'base64').toString())).toEqual([
    fp(fresh.leaf.certPem),
    fp(fresh.intermediates[0]!.certPem),
  ]);
});

test('renew --json of a folder with nothing usable carries every file and its reason; --host is checked like install', async () => {
  await installAged(90, 80);
  const before = await sb.servedCert(t().endpoint);
  const drop = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-drop-'));
  const other = await mintChain({ intermediates: 0, hosts: ['other.example.com'], leaf: { days: 90 } });
  await copyFile(other.files.leaf, path.join(drop, 'cert.pem'));
  await copyFile(other.files.key, path.join(drop, 'key.pem'));
  await writeFile(path.join(drop, 'notes.txt'), 'hello');
  const ca = path.join(drop, '..', `ca-h-${path.basename(drop)}.pem`);
  await writeFile(ca, other.root.certPem);
  const r = await runCli(
    [
      'renew',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--endpoint',
      t().endpoint,
      '--from',
      drop,
      '--ca',
      ca,
      '--host',
      'localhost',
      '--json',
    ],
    { env: sb.env },
  );
  expect(r.code).toBe(3);
  const j = JSON.parse(r.stdout);
  expect(j.ok).toBe(false);
  const why = Object.fromEntries(
    j.error.details.files.map((f: { file: string; why: string }) => [path.basename(f.file), f.why]),
  );
  expect(why['cert.pem']).toMatch(/fails verify: .*does not cover localhost/);
  expect(why['notes.txt']).toMatch(/no certificate or private key found/);
  expect(why['key.pem']).toMatch(/no usable certificate was found/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before.sha256);
});
