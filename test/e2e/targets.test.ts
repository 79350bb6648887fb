// Targets that are not what they claim, refused before anything changes (real kubectl against
// the sandbox): a secret that is not a TLS secret, a --proxy that does not mount the secret, and
// every kind of wrong --endpoint. "Nothing changed" is checked as the cluster sees it: the
// secret's resourceVersion and the served certificate.
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let m: MintedChain;
beforeAll(async () => {
  // Two tenants in one namespace: other-proxy mounts other-tls, not xsoar-tls.
  sb = await startSandbox({
    tenant: ['t1/xsoar-tls/xsoar-proxy', 't1/other-tls/other-proxy', 't2'],
    rolloutDelayMs: 50,
    inlinePods: true,
  });
  m = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
}, 120000);
afterAll(async () => sb?.stop());

const t1 = () => sb.tenants.find((t) => t.namespace === 't1' && t.secret === 'xsoar-tls')!;
const install = (extra: string[]) =>
  runCli(installArgs(m, ['-n', 't1', '--yes', '--allow-name-change', ...extra]), { env: sb.env });

async function rv(ns: string, name: string): Promise<string> {
  const r = await sb.kubectl(['get', 'secret', name, '-n', ns, '-o', 'jsonpath={.metadata.resourceVersion}']);
  return r.stdout.trim();
}

describe('a secret that is not a TLS secret is refused, and left as it was', () => {
  test.each([
    [
      'a kubernetes.io/dockerconfigjson secret',
      [
        'create',
        'secret',
        'docker-registry',
        'regcred',
        '-n',
        't1',
        '--docker-server=r.example',
        '--docker-username=u',
        '--docker-password=p',
      ],
      'regcred',
      /is a "kubernetes\.io\/dockerconfigjson" secret, not a TLS secret/,
    ],
    [
      'an Opaque secret with no certificate',
      ['create', 'secret', 'generic', 'plain', '-n', 't1', '--from-literal=token=abc'],
      'plain',
      /is an Opaque secret without tls\.crt and tls\.key, not a TLS secret/,
    ],
  ])('%s', async (_name, create, secret, msg) => {
    expect((await sb.kubectl(create)).code).toBe(0);
    const before = await rv('t1', secret);
    const r = await install(['--secret', secret, '--proxy', 'deployment/xsoar-proxy']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:'))).toMatch(msg);
    expect(await rv('t1', secret)).toBe(before);
  });
});

test('--proxy naming a deployment that does not mount the secret is refused, naming the ones that do', async () => {
  const before = await rv('t1', 'xsoar-tls');
  const served = await sb.servedCert(t1().endpoint);
  const r = await install(['--secret', 'xsoar-tls', '--proxy', 'deployment/other-proxy', '--endpoint', t1().endpoint]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /deployment\/other-proxy does not mount secret "xsoar-tls" .*: restarting it would not serve the new certificate/,
  );
  expect(r.stderr).toMatch(/The deployments that mount it: deployment\/xsoar-proxy/);
  expect(await rv('t1', 'xsoar-tls')).toBe(before);
  expect((await sb.servedCert(t1().endpoint)).sha256).toBe(served.sha256);
});

describe('a wrong --endpoint is found in preflight: nothing changes', () => {
  let closedPort: number;
  let plainPort: number;
  let plain: ReturnType<typeof createServer>;
  beforeAll(async () => {
    // A port that was just free (closed), and a plain TCP server that answers garbage (not TLS).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    plain = createServer((s) => {
      s.on('error', () => undefined);
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      s.destroySoon();
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    plainPort = (plain.address() as { port: number }).port;
  });
  afterAll(() => {
    plain.close();
    plain.unref();
  });

  const other = () => sb.tenants.find((t) => t.namespace === 't2')!;
  test.each([
    ['not a port', (): string => '127.0.0.1:not-a-port', 2, /--endpoint "127\.0\.0\.1:not-a-port": expected HOST:PORT/],
    ['port 99999', (): string => '127.0.0.1:99999', 2, /port from 1 to 65535/],
    ['a closed port', (): string => `127.0.0.1:${closedPort}`, 4, /no TLS handshake \(connection refused\)/],
    ['a port that does not speak TLS', (): string => `127.0.0.1:${plainPort}`, 4, /no TLS handshake/],
    [
      "another tenant's port",
      (): string => other().endpoint,
      4,
      /serves .*, not the certificate installed in t1\/xsoar-tls .*another tenant's endpoint/,
    ],
  ] as const)('%s', async (_name, endpoint, code, msg) => {
    const before = await rv('t1', 'xsoar-tls');
    const served = await sb.servedCert(t1().endpoint);
    const r = await install(['--secret', 'xsoar-tls', '--endpoint', endpoint()]);
    expect({ code: r.code, line: r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:')) }).toEqual({
      code,
      line: expect.stringMatching(msg),
    });
    expect(await rv('t1', 'xsoar-tls')).toBe(before);
    expect((await sb.servedCert(t1().endpoint)).sha256).toBe(served.sha256);
  });

  test('--no-confirm installs without checking (or confirming) the endpoint', async () => {
    const r = await install(['--secret', 'xsoar-tls', '--endpoint', other().endpoint, '--no-confirm']);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect((await sb.servedCert(t1().endpoint)).sha256).toBe(fp(m));
  });
});

test('rollback --timeout and renew --timeout are validated before anything happens', async () => {
  for (const cmd of [
    ['rollback', '-n', 't1', '--timeout', 'x'],
    ['renew', '--self-signed', '-n', 't1', '--timeout', 'x'],
    ['install', '--cert', m.files.leaf, '--timeout', '0'],
  ]) {
    const r = await runCli(cmd, { env: sb.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout must be a number of seconds, not "(x|0)"/);
  }
});

describe('a state folder that cannot take files is an input error (exit 3) before anything changes', () => {
  // Tests run as root, for whom permission bits do not apply: a folder that is a file is the
  // case that still fails here, the same code path as EACCES/EROFS for an ordinary user.
  test.each([
    ['the state dir is a file', (d: string) => (writeFileSync(d, 'x'), d)],
    ['its markers folder is a file', (d: string) => (mkdirSync(d), writeFileSync(path.join(d, 'markers'), 'x'), d)],
  ])('%s: install and rollback exit 3 naming it; status still works', async (_name, make) => {
    const dir = make(path.join(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-')), 'state'));
    const env = { ...sb.env, XSOAR_CERT_STATE_DIR: dir };
    // A previous version to roll back to, made with a usable state folder.
    expect((await install(['--secret', 'xsoar-tls', '--no-confirm'])).code).toBe(0);
    const before = await rv('t1', 'xsoar-tls');
    const r = await runCli(installArgs(m, ['-n', 't1', '--secret', 'xsoar-tls', '--yes', '--allow-name-change']), {
      env,
    });
    expect({ code: r.code, err: r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:')) }).toEqual({
      code: 3,
      err: expect.anything(),
    });
    expect(r.stderr).toMatch(
      /the xsoar-cert state folder is \(or is inside\) a file, not a folder .*nothing was changed/,
    );
    expect(r.stderr).toMatch(/XSOAR_CERT_STATE_DIR/);
    const rb = await runCli(['rollback', '-n', 't1', '--secret', 'xsoar-tls', '--yes'], { env });
    expect({ code: rb.code, err: rb.stderr }).toEqual({ code: 3, err: expect.stringMatching(/state folder/) });
    expect(await rv('t1', 'xsoar-tls')).toBe(before);
    const st = await runCli(['status', '-n', 't1', '--secret', 'xsoar-tls'], { env });
    expect([0, 1]).toContain(st.code);
    expect(st.stderr).not.toMatch(/state folder/);
  });
});

test('failed installs do not crowd out the previous certificates: after A, B, three failed installs and D, the kept versions are B, A and the original', async () => {
  const t2 = sb.tenants.find((t) => t.namespace === 't2')!;
  const original = (await sb.servedCert(t2.endpoint)).sha256;
  const [a, b, c, d] = await Promise.all(
    [0, 1, 2, 3].map(() => mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] })),
  );
  const run = (x: MintedChain) =>
    runCli(installArgs(x, ['-n', 't2', '--endpoint', t2.endpoint, '--yes', '--allow-name-change', '--timeout', '20']), {
      env: sb.env,
    });
  expect((await run(a!)).code).toBe(0);
  expect((await run(b!)).code).toBe(0);
  for (let i = 0; i < 3; i++) {
    // The rollout of the new certificate fails: rolled back (exit 5), a copy of B kept each time.
    await sb.setRollout({ namespace: 't2', deployment: t2.deployment, mode: 'fail' });
    const r = await run(c!);
    expect({ code: r.code, err: r.code === 5 ? '' : r.stderr }).toEqual({ code: 5, err: '' });
  }
  expect((await run(d!)).code).toBe(0);
  const r = await sb.kubectl([
    'get',
    'secrets',
    '-n',
    't2',
    '-l',
    'xsoar-cert.io/previous-of=xsoar-tls',
    '-o',
    'jsonpath={range .items[*]}{.metadata.annotations.xsoar-cert\\.io/fingerprint}{"\\n"}{end}',
  ]);
  expect(r.stdout.trim().split('\n').sort()).toEqual([original, fp(a!), fp(b!)].sort());
}, 120000);

test('installs within one second: the three newest distinct previous versions are kept, and rollback takes the newest', async () => {
  const t2 = sb.tenants.find((t) => t.namespace === 't2')!;
  const certs = await Promise.all(
    [0, 1, 2, 3, 4].map(() => mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] })),
  );
  for (const x of certs) {
    const r = await runCli(installArgs(x, ['-n', 't2', '--yes', '--allow-name-change', '--no-confirm']), {
      env: sb.env,
    });
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  }
  const r = await sb.kubectl([
    'get',
    'secrets',
    '-n',
    't2',
    '-l',
    'xsoar-cert.io/previous-of=xsoar-tls',
    '-o',
    'jsonpath={range .items[*]}{.metadata.annotations.xsoar-cert\\.io/fingerprint}{"\\n"}{end}',
  ]);
  expect(r.stdout.trim().split('\n').sort()).toEqual([fp(certs[1]!), fp(certs[2]!), fp(certs[3]!)].sort());
  const rb = await runCli(['rollback', '-n', 't2', '--yes', '--no-confirm', '--dry-run', '--json'], { env: sb.env });
  expect(JSON.stringify(JSON.parse(rb.stdout))).toContain(fp(certs[3]!));
}, 120000);
