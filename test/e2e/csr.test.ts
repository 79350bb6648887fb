// The certificate-request round trip through the built CLI and the real kubectl: csr → the CA
// signs it (openssl, and Debian's cfssl when installed) → install without --key → served, and the
// pending key is gone. The key never leaves the state dir (0600 in a 0700 folder) and never
// appears in any output.
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { makeCorpus, openssl, type Corpus } from '../helpers/openssl-corpus.js';

let sb: Sandbox;
let ca: Corpus;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
  ca = makeCorpus();
}, 60000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const reqDir = () => path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'requests');
const outputs: string[] = [];
const cli = async (args: string[], cwd?: string): Promise<CliResult> => {
  const r = await runCli(args, { env: sb.env, cwd });
  outputs.push(r.stdout, r.stderr);
  return r;
};
/** Every pending key's body, to be searched for in every output at the end. */
const keyBodies = () =>
  existsSync(reqDir())
    ? readdirSync(reqDir())
        .filter((f) => f.endsWith('.key'))
        .map((f) => readFileSync(path.join(reqDir(), f), 'utf8').split('\n')[1]!)
    : [];
const seenKeys: string[] = [];

function signWithOpenssl(csr: string, out: string, ext?: string, days = 90): void {
  const args = [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.int,
    '-CAkey',
    ca.intKey,
    '-CAcreateserial',
    '-days',
    String(days),
    '-out',
    out,
  ];
  if (ext) openssl([...args, '-extfile', ext]);
  else openssl([...args, '-copy_extensions', 'copy']);
}

describe.each(['rsa', 'ecdsa'] as const)('%s: csr → openssl-signed → install without --key', (keyType) => {
  test('round trip on the sandbox; the pending key is removed after the install', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-csr-'));
    const r = await cli(
      [
        'csr',
        '--host',
        'localhost',
        '--host',
        '127.0.0.1',
        '--subject',
        'O=Example Corp,OU=SecOps,C=DE',
        '--key-type',
        keyType,
        ...(keyType === 'rsa' ? ['--bits', '2048'] : []),
      ],
      work,
    );
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    const csrFile = path.join(work, 'localhost.csr');
    expect(r.stdout).toBe(readFileSync(csrFile, 'utf8'));
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    expect(r.stderr).toMatch(/the key is kept as pending request \d+ in the state dir/);
    seenKeys.push(...keyBodies());
    // openssl agrees the request is well formed and self-signed, with the names asked for.
    const text = execFileSync('openssl', ['req', '-in', csrFile, '-noout', '-verify', '-text'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(text).toMatch(/Subject: CN = localhost, O = Example Corp, OU = SecOps, C = DE/);
    expect(text).toMatch(/sha256With|ecdsa-with-SHA256/);
    // Modes: the folder 0700, the key 0600.
    expect(statSync(reqDir()).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(reqDir()).filter((x) => x.endsWith('.key')))
      expect(statSync(path.join(reqDir(), f)).mode & 0o777).toBe(0o600);
    // inspect reads the CSR and knows its key is pending here.
    const ins = await cli(['inspect', csrFile]);
    expect(ins.code).toBe(0);
    expect(ins.stdout).toMatch(/certificate signing request.*\n.*\n\s+names:\s+DNS:localhost, IP:127\.0\.0\.1/);
    expect(ins.stdout).toMatch(/verifies/);
    expect(ins.stdout).toMatch(/pending request \d+/);
    // The CA signs it (copying the requested extensions), and install completes the request.
    const signed = path.join(work, 'signed.crt');
    signWithOpenssl(csrFile, signed);
    const before = readdirSync(reqDir()).filter((f) => f.endsWith('.json')).length;
    const inst = await cli([
      'install',
      '--cert',
      signed,
      '--chain',
      ca.int,
      '--ca',
      ca.root,
      '--host',
      'localhost',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--endpoint',
      t().endpoint,
      '--yes',
      '--allow-name-change',
    ]);
    expect({ code: inst.code, err: inst.code ? inst.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(inst.stderr).toMatch(/using the key of request \d+ made \d{4}-\d\d-\d\d for localhost, 127\.0\.0\.1/);
    expect(inst.stderr).toMatch(/pending request \d+ completed: its key now lives only in the secret/);
    expect((await sb.servedCert(t().endpoint)).sha256).toBe(new X509Certificate(readFileSync(signed)).fingerprint256);
    expect(readdirSync(reqDir()).filter((f) => f.endsWith('.json'))).toHaveLength(before - 1);
  });
});

test('cfssl sign (Debian golang-cfssl) takes the request too', async () => {
  if (spawnSync('cfssl', ['version']).status !== 0)
    throw new Error('cfssl is not installed: .ci/run installs golang-cfssl');
  const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-cfssl-'));
  expect((await cli(['csr', '--host', 'localhost', '--host', '127.0.0.1', '--key-type', 'ecdsa'], work)).code).toBe(0);
  seenKeys.push(...keyBodies());
  const r = spawnSync('cfssl', ['sign', '-ca', ca.int, '-ca-key', ca.intKey, path.join(work, 'localhost.csr')], {
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  writeFileSync(path.join(work, 'cfssl.crt'), JSON.parse(r.stdout).cert);
  const v = await cli([
    'verify',
    '--cert',
    path.join(work, 'cfssl.crt'),
    '--chain',
    ca.int,
    '--ca',
    ca.root,
    '--host',
    'localhost',
    '--json',
  ]);
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout).checks.find((c: { id: string }) => c.id === 'request').message).toMatch(
    /using the key of request \d+/,
  );
});

test('--from-installed asks for exactly the installed names; a CA that drops one is named, and install refuses to drop it', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-csr-inst-'));
  const live = new X509Certificate(
    Buffer.from((await sb.secretData(t().namespace, t().secret))!['tls.crt']!, 'base64'),
  );
  const installed = (live.subjectAltName ?? '')
    .split(', ')
    .map((x) => x.replace(/^DNS:|^IP Address:/, ''))
    .sort();
  const r = await cli(['csr', '--from-installed', '-n', t().namespace, '--secret', t().secret, '--json'], work);
  expect(r.code).toBe(0);
  const j = JSON.parse(r.stdout);
  expect(j.requests).toHaveLength(1);
  expect([...j.requests[0].names].sort()).toEqual(installed);
  expect(j.requests[0].for).toEqual([`${t().namespace}/${t().secret}`]);
  expect(JSON.stringify(j)).not.toMatch(/PRIVATE KEY/);
  seenKeys.push(...keyBodies());
  // The CA issues it for the first name only.
  const ext = path.join(work, 'drop.ext');
  writeFileSync(ext, `subjectAltName=DNS:${installed.find((n) => !/^[\d.]+$/.test(n))}\nextendedKeyUsage=serverAuth\n`);
  const signed = path.join(work, 'dropped.crt');
  signWithOpenssl(j.requests[0].csrFile, signed, ext);
  const inst = await cli([
    'install',
    '--cert',
    signed,
    '--chain',
    ca.int,
    '--ca',
    ca.root,
    '-n',
    t().namespace,
    '--secret',
    t().secret,
    '--yes',
  ]);
  expect(inst.code).toBe(1);
  expect(inst.stderr).toMatch(/the CA left out .*127\.0\.0\.1.*, which request \d+ asked for/);
  expect(inst.stderr).toMatch(/does not cover .*127\.0\.0\.1.*which the installed certificate covers/);
  // Refused and rolled nothing: the request is kept for a corrected certificate.
  expect((await cli(['csr', '--list', '--json'])).stdout).toContain(j.requests[0].publicKeySha256);
});

test('names a public CA refuses are refused before a key is made; an IDN goes in as its A-label', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-csr-names-'));
  for (const [host, msg] of [
    ['xsoar', /single-label name/],
    ['a.*.example.com', /wildcard may only be the whole leftmost label/],
    ['xn--zz-.example.com', /not a valid DNS label|bad punycode/],
  ] as const) {
    const r = await cli(['csr', '--host', host], work);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  }
  expect(readdirSync(work)).toEqual([]);
  const idn = await cli(['csr', '--host', 'bücher.example', '--key-type', 'ecdsa', '--json'], work);
  expect(idn.code).toBe(0);
  expect(JSON.parse(idn.stdout).requests[0].names).toEqual(['xn--bcher-kva.example']);
  seenKeys.push(...keyBodies());
  // --key-out: the key in a file of its own, 0600, never over an existing file.
  const k = path.join(work, 'own.key');
  expect((await cli(['csr', '--host', 'own.example.com', '--key-type', 'ecdsa', '--key-out', k], work)).code).toBe(0);
  expect(statSync(k).mode & 0o777).toBe(0o600);
  seenKeys.push(readFileSync(k, 'utf8').split('\n')[1]!);
  const again = await cli(
    ['csr', '--host', 'own.example.com', '--key-type', 'ecdsa', '--key-out', k, '--out', path.join(work, 'x.csr')],
    work,
  );
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/already exists/);
});

test('renew --from a folder holding only the signed certificate and its chain completes the pending request', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-csr-renew-'));
  expect(
    (await cli(['csr', '--host', 'localhost', '--host', '127.0.0.1', '--key-type', 'ecdsa', '--json'], work)).code,
  ).toBe(0);
  seenKeys.push(...keyBodies());
  const drop = path.join(work, 'drop');
  (await import('node:fs')).mkdirSync(drop);
  // Longer-lived than anything installed before (the sandbox's own is 365 days): renew takes only a newer one.
  signWithOpenssl(path.join(work, 'localhost.csr'), path.join(drop, 'signed.crt'), undefined, 390);
  writeFileSync(path.join(drop, 'chain.pem'), readFileSync(ca.int));
  const r = await cli([
    'renew',
    '--from',
    drop,
    '--ca',
    ca.root,
    '--force',
    '-n',
    t().namespace,
    '--secret',
    t().secret,
    '--endpoint',
    t().endpoint,
    '--allow-name-change',
  ]);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(r.stderr).toMatch(/signed\.crt: completes pending request (\d+)/);
  expect(r.stderr).toMatch(/pending request \d+ completed/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(
    new X509Certificate(readFileSync(path.join(drop, 'signed.crt'))).fingerprint256,
  );
});

test('install of a certificate no pending request matches, without --key, says so and lists the pending requests', async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-csr-nomatch-'));
  expect((await cli(['csr', '--host', 'pending.example.com', '--key-type', 'ecdsa'], work)).code).toBe(0);
  seenKeys.push(...keyBodies());
  const r = await cli(['install', '--cert', ca.int, '-n', t().namespace, '--secret', t().secret, '--yes']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /install needs --key FILE: .* holds no key, and no pending certificate request matches it \(pending: .*request \d+ for pending\.example\.com/,
  );
});

test('csr --list and --discard', async () => {
  const l = await cli(['csr', '--list', '--json']);
  const before = JSON.parse(l.stdout).requests as { id: number; names: string[] }[];
  expect(before.length).toBeGreaterThan(0);
  const d = await cli(['csr', '--discard', String(before[0]!.id)]);
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(new RegExp(`discarded pending request ${before[0]!.id}`));
  expect(JSON.parse((await cli(['csr', '--list', '--json'])).stdout).requests).toHaveLength(before.length - 1);
  expect((await cli(['csr', '--discard', '9999'])).code).toBe(3);
});

afterAll(() => {
  // No key bytes in anything any command printed.
  const all = outputs.join('\n');
  for (const body of seenKeys) expect(all).not.toContain(body.slice(0, 40));
});
