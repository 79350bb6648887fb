// The one-file bundle runs alone: copied into an empty folder with no node_modules next to it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ROOT } from '../helpers/run-cli.js';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';

let dir: string;
let sb: Sandbox;
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(dir, 'xsoar-cert.mjs'), ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', ...env },
    encoding: 'utf8',
  });

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle.mjs')], { stdio: 'pipe' });
  dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-bundle-'));
  copyFileSync(path.join(ROOT, 'dist', 'xsoar-cert.mjs'), path.join(dir, 'xsoar-cert.mjs'));
  sb = await startSandbox({ rolloutDelayMs: 50 });
}, 120000);
afterAll(async () => sb?.stop());

test('the folder holds only the bundle, and it answers --version', () => {
  expect(readdirSync(dir)).toEqual(['xsoar-cert.mjs']);
  const r = run(['--version']);
  expect(r.status).toBe(0);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(r.stdout.trim()).toBe(pkg.version);
});

test("the bundle keeps the dependencies' licence notices, and reports bad input in one line (exit 3), like the dist build", () => {
  const text = readFileSync(path.join(dir, 'xsoar-cert.mjs'), 'utf8');
  expect(text).toMatch(/Licence notices of the bundled dependencies/);
  expect(text).toMatch(/@peculiar\/x509[\s\S]*MIT License/);
  const r = run(['inspect', 'no-such.pem']);
  expect(r.status).toBe(3);
  expect(r.stderr).toMatch(/^xsoar-cert: no-such\.pem: no such file\n/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('generate, verify, a PKCS#12 inspect and an install on the sandbox, all from the bundle alone', () => {
  expect(
    run([
      'generate',
      '--ca',
      '--host',
      'localhost',
      '--host',
      '127.0.0.1',
      '--host',
      'xsoar.xsoar.local',
      '--out-dir',
      'c',
    ]).status,
  ).toBe(0);
  const v = run([
    'verify',
    '--cert',
    'c/localhost+2.pem',
    '--key',
    'c/localhost+2-key.pem',
    '--ca',
    'c/rootCA.pem',
    '--host',
    'localhost',
  ]);
  expect(v.stdout).toMatch(/OK: fit to serve/);
  execFileSync(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      'c/localhost+2.pem',
      '-inkey',
      'c/localhost+2-key.pem',
      '-out',
      'c/t.p12',
      '-passout',
      'pass:pw',
    ],
    { cwd: dir },
  );
  const p = run(['inspect', 'c/t.p12', '--json'], { XSOAR_CERT_PASSPHRASE: 'pw' });
  expect(p.status).toBe(0);
  expect(JSON.parse(p.stdout).keys).toHaveLength(1);
  const t = sb.tenants[0]!;
  const i = run(
    [
      'install',
      '--cert',
      'c/localhost+2.pem',
      '--key',
      'c/localhost+2-key.pem',
      '--ca',
      'c/rootCA.pem',
      '--host',
      'localhost',
      '-n',
      t.namespace,
      '--secret',
      t.secret,
      '--endpoint',
      t.endpoint,
      '--yes',
    ],
    sb.env,
  );
  expect(i.stderr).toMatch(/Confirm:/);
  expect(i.status).toBe(0);
});

test('the install really changed what the tenant serves', async () => {
  const served = await sb.servedCert(sb.tenants[0]!.endpoint);
  const { readFileSync } = await import('node:fs');
  expect(served.sha256).toBe(new X509Certificate(readFileSync(path.join(dir, 'c', 'localhost+2.pem'))).fingerprint256);
});
