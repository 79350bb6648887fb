// install / rollback / status / audit against the sandbox with the real kubectl. Every fault
// ends in one of two states: the new certificate verified live, or the old secret data
// byte-identical AND served.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { runCli, BIN } from '../helpers/run-cli.js';

let sb: Sandbox;
let certs: MintedChain[] = [];
let n = 0;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 100, progressDeadlineMs: 1500 });
  certs = await Promise.all(
    [0, 1, 2, 3, 4, 5].map(() =>
      mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1', 'xsoar.xsoar.local'] }),
    ),
  );
}, 120000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
/** install m on the tenant, --yes --timeout 20, then extra. */
const argsFor = (m: MintedChain, extra: string[] = []) =>
  installArgs(m, [...targetArgs(t()), '--yes', '--timeout', '20', ...extra]);
const install = (m: MintedChain, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  runCli(argsFor(m, extra), { env: { ...sb.env, ...env } });
const nextCert = () => certs[n++ % certs.length]!;

/** The invariant after any failed install: the old data byte-identical and still served. */
async function expectUnchanged(beforeData: Record<string, string> | undefined, beforeServed: string) {
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(beforeData);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(beforeServed);
}

test('a good install: the served certificate changes, annotations and an audit record are written', async () => {
  const m = nextCert();
  const r = await install(m);
  expect(r.stderr).toMatch(/Backup: .*\n[\s\S]*Apply[\s\S]*Restart[\s\S]*Confirm/);
  expect(r.code).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(m));
  const s = JSON.parse((await sb.kubectl(['get', 'secret', t().secret, '-n', t().namespace, '-o', 'json'])).stdout);
  expect(s.type).toBe('kubernetes.io/tls');
  expect(s.metadata.annotations['xsoar-cert.io/fingerprint']).toBe(fp(m));
  expect(Buffer.from(s.data['tls.crt'], 'base64').toString()).toBe(m.leaf.certPem + m.intermediates[0]!.certPem);
  expect(Buffer.from(s.data['ca.crt'], 'base64').toString()).toBe(m.root.certPem);
  const audit = await runCli(['audit', '--json'], { env: sb.env });
  const recs = JSON.parse(audit.stdout);
  expect(recs[recs.length - 1]).toMatchObject({
    op: 'install',
    result: 'installed',
    newFingerprint: fp(m),
    namespace: t().namespace,
  });
});

test('--dry-run changes nothing and shows the manifests with the key redacted', async () => {
  const m = nextCert();
  const before = await sb.state();
  const r = await install(m, ['--dry-run']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/\[REDACTED \d+ bytes\]/);
  expect(r.stdout).not.toContain(Buffer.from(m.leaf.keyPem).toString('base64').slice(0, 40));
  // Only key material is secret: --json shows the certificates that would be written.
  const j = await install(m, ['--dry-run', '--json']);
  const data = JSON.parse(j.stdout).plan.secretManifest.data;
  expect(Buffer.from(data['tls.crt'], 'base64').toString()).toContain(m.leaf.certPem.split('\n')[1]);
  expect(data['tls.key']).toMatch(/^\[REDACTED \d+ bytes\]$/);
  const after = await sb.state();
  expect(after.resourceVersion).toBe(before.resourceVersion);
});

describe('faults: the end state is the new cert live, or the old one byte-identical and served', () => {
  const cases: [string, Record<string, unknown> | { rollout: string }][] = [
    ['the backup write fails (500)', { match: { method: 'POST', path: '/secrets$' }, action: 'status', status: 500 }],
    ['the apply write fails (500)', { match: { method: 'PUT', path: '/secrets/' }, action: 'status', status: 500 }],
    ['the apply connection is dropped', { match: { method: 'PUT', path: '/secrets/' }, action: 'drop' }],
    ['the restart patch fails', { match: { method: 'PATCH', path: '/deployments/' }, action: 'status', status: 500 }],
    [
      'a slow response (1.5 s) on the apply',
      { match: { method: 'PUT', path: '/secrets/' }, action: 'delay', delayMs: 1500 },
    ],
    ['the rollout fails (ProgressDeadlineExceeded)', { rollout: 'fail' }],
    ['the rollout is stuck', { rollout: 'stuck' }],
  ];
  test.each(cases)('%s', async (_name, fault) => {
    const m = nextCert();
    const beforeData = await sb.secretData(t().namespace, t().secret);
    const beforeServed = (await sb.servedCert(t().endpoint)).sha256;
    if ('rollout' in fault)
      await sb.setRollout({
        namespace: t().namespace,
        deployment: t().deployment,
        mode: fault.rollout as 'fail' | 'stuck',
      });
    else await sb.fault(fault as unknown as Parameters<Sandbox['fault']>[0]);
    const r = await install(m, ['--timeout', '3']);
    await sb.clearFaults();
    if (r.code === 0) {
      expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(m));
    } else {
      expect([4, 5]).toContain(r.code);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      if (r.code === 5)
        expect(r.stderr).toMatch(/rolled back: the previous certificate .* is installed and served again/);
      await expectUnchanged(beforeData, beforeServed);
    }
  });
});

test('RBAC denied: a clear message naming the permission, exit 4, nothing changed', async () => {
  const m = nextCert();
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const beforeServed = (await sb.servedCert(t().endpoint)).sha256;
  await sb.setAuthz({ user: 'viewer', deny: [{ verb: 'update', resource: 'secrets' }] });
  const kc = path.join(sb.dir, 'viewer.kubeconfig');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(kc, readFileSync(sb.kubeconfig, 'utf8').replace('user: {}', 'user:\n    as: viewer'));
  const r = await install(m, ['--kubeconfig', kc]);
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/permission denied: this user cannot update secrets in namespace "xsoar"/);
  await expectUnchanged(beforeData, beforeServed);
  await sb.setAuthz({ reset: true });
});

test('two concurrent installs: one wins, the other fails cleanly (exit 7); the secret is consistent', async () => {
  const [a, b] = [nextCert(), nextCert()];
  const [ra, rb] = await Promise.all([install(a), install(b)]);
  const codes = [ra.code, rb.code].sort();
  expect(codes[0]).toBe(0);
  expect([0, 7]).toContain(codes[1]);
  const loser = ra.code === 7 ? ra : rb.code === 7 ? rb : undefined;
  if (loser)
    expect(loser.stderr).toMatch(
      // Which message depends on where the loser meets the winner: the local lock, the fenced
      // replace, or (in its preflight) the in-cluster lock the winner's replace took.
      /holds the lock|changed while xsoar-cert was working|another xsoar-cert run is changing|is being changed by another xsoar-cert install/,
    );
  const served = (await sb.servedCert(t().endpoint)).sha256;
  const data = await sb.secretData(t().namespace, t().secret);
  expect(new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64')).fingerprint256).toBe(served);
});

test('rollback restores the previous version byte for byte and is itself reversible', async () => {
  const [a, b] = [nextCert(), nextCert()];
  expect((await install(a)).code).toBe(0);
  const dataA = await sb.secretData(t().namespace, t().secret);
  expect((await install(b)).code).toBe(0);
  const r = await runCli(['rollback', ...targetArgs(t()), '--yes'], { env: sb.env });
  expect(r.code).toBe(0);
  expect((await sb.secretData(t().namespace, t().secret))!['tls.crt']).toBe(dataA!['tls.crt']);
  expect((await sb.secretData(t().namespace, t().secret))!['tls.key']).toBe(dataA!['tls.key']);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(a));
  const again = await runCli(['rollback', ...targetArgs(t()), '--yes'], { env: sb.env });
  expect(again.code).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(b));
  const st = await runCli(['status', ...targetArgs(t()), '--json'], { env: sb.env });
  expect(JSON.parse(st.stdout)).toMatchObject({ agree: true, installed: { sha256: fp(b) } });
});

function spawnInstall(m: MintedChain) {
  const child = spawn(process.execPath, [BIN, ...argsFor(m, ['--timeout', '30'])], {
    env: { ...sb.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return { child, done, stderr: () => stderr };
}

test('SIGINT during the rollout rolls back: exit 5, old certificate served', async () => {
  const m = nextCert();
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const beforeServed = (await sb.servedCert(t().endpoint)).sha256;
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'stuck' });
  const p = spawnInstall(m);
  // Once the rollout is under way (the stuck rollout is consumed by this restart):
  while (!/Waiting for deployment/.test(p.stderr())) await new Promise((r) => setTimeout(r, 50));
  p.child.kill('SIGINT');
  const { code } = await p.done;
  expect({ code, stderr: code === 5 ? '' : p.stderr() }).toEqual({ code: 5, stderr: '' });
  expect(p.stderr()).toMatch(/interrupted/);
  await expectUnchanged(beforeData, beforeServed);
});

test('a run killed with SIGKILL leaves a marker that the next status resolves by rolling back', async () => {
  const m = nextCert();
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const beforeServed = (await sb.servedCert(t().endpoint)).sha256;
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'stuck' });
  const p = spawnInstall(m);
  while (!/Waiting for deployment/.test(p.stderr())) await new Promise((r) => setTimeout(r, 50));
  p.child.kill('SIGKILL');
  await p.done;
  expect(readdirSync(path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'markers'))).toHaveLength(1);
  const st = await runCli(['status', ...targetArgs(t())], {
    env: sb.env,
  });
  expect(st.stderr).toMatch(/was interrupted at step "restart"; resolving it/);
  expect(st.code).toBe(0);
  expect(readdirSync(path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'markers'))).toHaveLength(0);
  await expectUnchanged(beforeData, beforeServed);
});

test('the private key never appears in any argv during an install, nor in output, audit or JSON', async () => {
  const m = nextCert();
  // From the middle: the first base64 characters of any PEM key of one type are the same (its header
  // and the first ASN.1 bytes), so a prefix would match another test's key in the process scan.
  const keyB64 = Buffer.from(m.leaf.keyPem).toString('base64').slice(200);
  const keyBody = m.leaf.keyPem.split('\n')[1]!;
  const child = spawn(process.execPath, [BIN, ...argsFor(m, ['--json'])], {
    env: { ...sb.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let running = true;
  child.on('exit', () => (running = false));
  let scans = 0;
  const leaks: string[] = [];
  while (running) {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
        if (argv.includes(keyBody) || argv.includes(keyB64.slice(0, 40)))
          leaks.push(argv.split('\0').slice(0, 3).join(' '));
      } catch {
        /* process gone */
      }
    }
    scans++;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(scans).toBeGreaterThan(5);
  expect(leaks).toEqual([]);
  expect(JSON.parse(out.slice(out.indexOf('{'))).ok).toBe(true);
  expect(out).not.toContain(keyBody);
  expect(out).not.toContain(keyB64.slice(0, 40));
  const audit = readFileSync(path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'audit.jsonl'), 'utf8');
  expect(audit).not.toContain(keyBody);
  expect(audit).not.toContain(keyB64.slice(0, 40));
  expect((await import('node:fs')).statSync(path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'audit.jsonl')).mode & 0o777).toBe(
    0o600,
  );
  const log = readFileSync(path.join(sb.dir, 'requests.log'), 'utf8');
  expect(log).not.toContain(keyB64.slice(0, 40));
});

test('audit --verify detects an edited record', async () => {
  const file = path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'audit.jsonl');
  expect((await runCli(['audit', '--verify'], { env: sb.env })).code).toBe(0);
  const { writeFileSync } = await import('node:fs');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const rec = JSON.parse(lines[0]!);
  rec.user = 'mallory';
  lines[0] = JSON.stringify(rec);
  writeFileSync(file, lines.join('\n') + '\n');
  const r = await runCli(['audit', '--verify'], { env: sb.env });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/record 1 was edited/);
});

test('an audit log that cannot be written stops the install before anything changes (exit 3)', async () => {
  const { mkdtempSync, mkdirSync } = await import('node:fs');
  const state = mkdtempSync(path.join(sb.dir, 'state-blocked-'));
  mkdirSync(path.join(state, 'audit.jsonl')); // EISDIR, even for root
  const before = await sb.state();
  const r = await install(nextCert(), [], { XSOAR_CERT_STATE_DIR: state });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/audit\.jsonl: cannot (write|read) the audit log \(EISDIR\)/);
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
});

test('status for a secret that is not there lists the TLS secrets it can see, previous versions left out', async () => {
  const r = await runCli(['status', '-n', t().namespace, '--secret', 'no-such-secret', '--json'], { env: sb.env });
  const report = JSON.parse(r.stdout);
  expect(report.installed).toBeNull();
  expect(report.tlsSecretsInNamespace).toEqual([t().secret]); // backups exist by now, and are not offered
  const backups = (
    await sb.kubectl([
      'get',
      'secrets',
      '-n',
      t().namespace,
      '-l',
      `xsoar-cert.io/previous-of=${t().secret}`,
      '-o',
      'name',
    ])
  ).stdout.trim();
  expect(backups).not.toBe('');
});
