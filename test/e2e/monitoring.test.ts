// Monitoring that reads the fleet (issue 18, item 5), against the sandbox with three tenants:
// `xsoar-cert check` as a Nagios/Icinga plugin (one line, exit 0/1/2/3, each from a real case) and
// the Prometheus metrics file, checked by promtool (Debian's prometheus package) and by value.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli } from '../helpers/run-cli.js';
import { writeRenewalState } from '../../src/ops/renewal-state.js';

let sb: Sandbox;
let tenantsFile: string;
const savedStateDir = process.env.XSOAR_CERT_STATE_DIR;
beforeAll(async () => {
  sb = await startSandbox({ tenants: 3, inlinePods: true });
  tenantsFile = path.join(sb.dir, 'tenants.txt');
  writeFileSync(tenantsFile, sb.tenants.map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`).join('\n') + '\n');
  // writeRenewalState (below) writes into the runs' state dir.
  process.env.XSOAR_CERT_STATE_DIR = sb.env.XSOAR_CERT_STATE_DIR;
}, 60000);
afterAll(async () => {
  process.env.XSOAR_CERT_STATE_DIR = savedStateDir;
  await sb?.stop();
});

const check = (args: string[]) => runCli(['check', ...args], { env: sb.env });
/** One line: STATE - summary [| perfdata], nothing else on stdout, nothing on stderr. */
const LINE = /^(?:OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+(?: \| ([^|\n]+))?\n$/;
const PERF_TENANT = /^'tenant-\d\/xsoar-tls'=\d+d;\d+:;\d+:$/;

function expectOneLine(r: { stdout: string; stderr: string }, state: string): string[] {
  expect(r.stdout).toMatch(LINE);
  expect(r.stdout.startsWith(`${state} - `)).toBe(true);
  expect(r.stderr).toBe('');
  return (LINE.exec(r.stdout)![1] ?? '').split(' ').filter(Boolean);
}

async function certOf(ns: string): Promise<X509Certificate> {
  const data = await sb.secretData(ns, 'xsoar-tls');
  return new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64'));
}

function promtool(file: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(file), encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

/** The value of metric{namespace="ns",secret="xsoar-tls"} in the exposition text, or undefined. */
function sample(text: string, name: string, ns: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{namespace="${ns}",secret="xsoar-tls"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

test('OK (exit 0) on the fleet by defaults: one cross-namespace read, perfdata for every tenant', async () => {
  await sb.control('requests', undefined, 'DELETE');
  const r = await check(['-A', '-l', 'app.kubernetes.io/part-of=xsoar']);
  expect(r.code).toBe(0);
  const perf = expectOneLine(r, 'OK');
  expect(r.stdout).toMatch(
    /^OK - 3 tenants OK; the soonest, tenant-\d\/xsoar-tls, expires \d{4}-\d\d-\d\d \(36\d days left\) \| /,
  );
  expect(perf[0]).toMatch(/^days_left=36\d;21:;7:$/);
  expect(perf.slice(1)).toHaveLength(3);
  for (const p of perf.slice(1)) expect(p).toMatch(PERF_TENANT);
  const log: Array<{ method: string; path: string }> = await sb.requests();
  expect(log.filter((e) => e.method === 'GET' && /^\/api\/v1\/secrets$/.test(e.path))).toHaveLength(1);
  expect(log.filter((e) => /^\/api\/v1\/namespaces\/[^/]+\/secrets/.test(e.path))).toHaveLength(0);
}, 60000);

test('WARNING (exit 1) with --warning 400 on a one-year certificate; CRITICAL (exit 2) with --critical 400', async () => {
  const t = sb.tenants[0]!;
  const w = await check(['-n', t.namespace, '--endpoint', t.endpoint, '--warning', '400']);
  expect(w.code).toBe(1);
  const perf = expectOneLine(w, 'WARNING');
  expect(w.stdout).toMatch(/^WARNING - tenant-1\/xsoar-tls: expires in 36\d days \(\d{4}-\d\d-\d\d\) \| /);
  expect(perf).toEqual([
    expect.stringMatching(/^days_left=36\d;400:;7:$/),
    expect.stringMatching(/^'tenant-1\/xsoar-tls'=36\dd;400:;7:$/),
  ]);
  const c = await check(['-n', t.namespace, '--endpoint', t.endpoint, '-w', '500', '-c', '400']);
  expect(c.code).toBe(2);
  expectOneLine(c, 'CRITICAL');
  expect(c.stdout).toMatch(/^CRITICAL - tenant-1\/xsoar-tls: expires in 36\d days .*\| days_left=36\d;500:;400: /);
}, 60000);

test('a failing renewal is WARNING (exit 1); the metrics file passes promtool and holds the values', async () => {
  writeRenewalState({
    namespace: 'tenant-2',
    secret: 'xsoar-tls',
    failures: 3,
    failingSince: '2026-12-01T06:00:00.000Z',
    lastAttempt: {
      at: '2026-12-01T08:00:00.000Z',
      result: 'ca-refused',
      exitCode: 9,
      error: 'the CA refused: rate limited',
    },
    lastSuccess: '2026-11-01T06:00:00.000Z',
  });
  const file = path.join(sb.dir, 'xsoar-cert.prom');
  const r = await check(['--tenants-file', tenantsFile, '--metrics-file', file]);
  expect(r.code).toBe(1);
  expectOneLine(r, 'WARNING');
  expect(r.stdout).toMatch(
    /^WARNING - tenant-2\/xsoar-tls: renewal failing since 2026-12-01 06:00Z, 3 attempts, last error: the CA refused: rate limited \(3 tenants: 1 WARNING, 2 OK\) \| /,
  );
  const lint = promtool(file);
  expect(lint).toEqual({ status: 0, out: '' });
  const text = readFileSync(file, 'utf8');
  for (const t of sb.tenants) {
    const cert = await certOf(t.namespace);
    expect(sample(text, 'xsoar_cert_not_after_timestamp_seconds', t.namespace)).toBe(Date.parse(cert.validTo) / 1000);
    expect(sample(text, 'xsoar_cert_served_matches_installed', t.namespace)).toBe(1);
    expect(sample(text, 'xsoar_cert_endpoint_up', t.namespace)).toBe(1);
  }
  expect(sample(text, 'xsoar_cert_renewal_failures_total', 'tenant-2')).toBe(3);
  expect(sample(text, 'xsoar_cert_renewal_failures_total', 'tenant-1')).toBe(0);
  expect(sample(text, 'xsoar_cert_renewal_last_result', 'tenant-2')).toBe(9);
  expect(sample(text, 'xsoar_cert_renewal_last_result', 'tenant-1')).toBeUndefined(); // never attempted
  expect(sample(text, 'xsoar_cert_renewal_last_attempt_timestamp_seconds', 'tenant-2')).toBe(
    Date.parse('2026-12-01T08:00:00.000Z') / 1000,
  );
  expect(sample(text, 'xsoar_cert_renewal_last_success_timestamp_seconds', 'tenant-2')).toBe(
    Date.parse('2026-11-01T06:00:00.000Z') / 1000,
  );
  expect(text).toMatch(/^# TYPE xsoar_cert_renewal_failures_total counter$/m);
}, 60000);

test('an endpoint serving another certificate is CRITICAL (exit 2), and served_matches_installed 0', async () => {
  // Each sandbox tenant has its own certificate: tenant-1's "endpoint" is now tenant-2's.
  const [t1, t2, t3] = sb.tenants;
  const crossed = path.join(sb.dir, 'crossed.txt');
  writeFileSync(
    crossed,
    `${t1!.namespace}/xsoar-tls ${t2!.endpoint}\n${t2!.namespace}/xsoar-tls ${t2!.endpoint}\n${t3!.namespace}/xsoar-tls ${t3!.endpoint}\n`,
  );
  const file = path.join(sb.dir, 'crossed.prom');
  const r = await check(['--tenants-file', crossed, '--metrics-file', file]);
  expect(r.code).toBe(2);
  const perf = expectOneLine(r, 'CRITICAL');
  const [fp1, fp2] = [(await certOf('tenant-1')).fingerprint256, (await certOf('tenant-2')).fingerprint256];
  expect(r.stdout).toContain(
    `CRITICAL - tenant-1/xsoar-tls: ${t2!.endpoint} serves ${fp2.slice(0, 11)}…, not the installed certificate ${fp1.slice(0, 11)}… (3 tenants: 1 CRITICAL, 1 WARNING, 1 OK) | `,
  );
  expect(perf).toHaveLength(4);
  expect(promtool(file)).toEqual({ status: 0, out: '' });
  const text = readFileSync(file, 'utf8');
  expect(sample(text, 'xsoar_cert_served_matches_installed', 'tenant-1')).toBe(0);
  expect(sample(text, 'xsoar_cert_served_matches_installed', 'tenant-2')).toBe(1);
  expect(sample(text, 'xsoar_cert_served_matches_installed', 'tenant-3')).toBe(1);
}, 60000);

test('UNKNOWN (exit 3): a secret that does not exist, an unreachable cluster, and bad flags; never a stack', async () => {
  const missing = await check(['-n', 'tenant-1', '--secret', 'nope']);
  expect(missing.code).toBe(3);
  expect(missing.stdout).toBe('UNKNOWN - tenant-1/nope: secret not found\n');
  expect(missing.stderr).toBe('');
  // In a fleet the missing one is named, and the rest still have perfdata.
  const fleet = await check(['-n', 'tenant-1', '-n', 'tenant-404']);
  expect(fleet.code).toBe(3);
  expect(expectOneLine(fleet, 'UNKNOWN')).toEqual([
    expect.stringMatching(/^days_left=/),
    expect.stringMatching(/^'tenant-1\/xsoar-tls'=/),
  ]);
  expect(fleet.stdout).toMatch(/^UNKNOWN - tenant-404\/xsoar-tls: secret not found \(2 tenants: 1 UNKNOWN, 1 OK\) \| /);
  const kubeconfig = path.join(sb.dir, 'down.kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: down, cluster: {server: "https://127.0.0.1:1"}}]\n' +
      'contexts: [{name: down, context: {cluster: down, user: u}}]\ncurrent-context: down\nusers: [{name: u, user: {token: x}}]\n',
  );
  const down = await check(['-n', 'tenant-1', '--kubeconfig', kubeconfig]);
  expect(down.code).toBe(3);
  expectOneLine(down, 'UNKNOWN');
  expect(down.stdout).toMatch(/^UNKNOWN - tenant-1\/xsoar-tls: cannot reach the cluster/);
  for (const bad of [
    ['--warning', 'abc'],
    ['--bogus'],
    ['--critical'],
    ['extra'],
    ['-n', 'Bad_Name'],
    ['--timeout', '0'],
  ]) {
    const r = await check(bad);
    expect({ bad, code: r.code }).toEqual({ bad, code: 3 });
    expect(r.stdout).toMatch(/^UNKNOWN - usage: [^|\n]+ \(see xsoar-cert check --help\)\n$/);
    expect(r.stderr).toBe('');
  }
  expect((await check(['--warning', 'abc'])).stdout).toBe(
    'UNKNOWN - usage: --warning takes a whole number of days from 0 to 36500, not "abc" (see xsoar-cert check --help)\n',
  );
  expect((await check(['--bogus'])).stdout).toBe(
    "UNKNOWN - usage: unknown option '--bogus' (see xsoar-cert check --help)\n",
  );
}, 60000);

test('check --help: examples, the states, and exit 3 for usage errors', async () => {
  const r = await check(['--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^EXAMPLES\n(  [$#] .+\n)+/m);
  expect(r.stdout).toMatch(/^  \$ xsoar-cert check /m);
  expect(r.stdout).toMatch(/^EXIT CODES/m);
  expect(r.stdout).toMatch(/^  3 +UNKNOWN, usage errors included/m);
});

test('renew --metrics-file after a fleet run with one failing tenant: promtool accepts it, and the values are the run', async () => {
  const file = path.join(sb.dir, 'renew.prom');
  // tenant-1 and tenant-2 renew (self-signed is enough here); tenant-3 points at a secret that does not exist.
  const list = path.join(sb.dir, 'renew-tenants.txt');
  writeFileSync(list, ['tenant-1/xsoar-tls', 'tenant-2/xsoar-tls', 'tenant-3/no-such-secret'].join('\n') + '\n');
  const state = path.join(sb.dir, 'renew-metrics-state');
  const env = { ...sb.env, XSOAR_CERT_STATE_DIR: state };
  const r = await runCli(['renew', '--self-signed', '--force', '--tenants-file', list, '--metrics-file', file], {
    env,
  });
  expect(r.code).toBe(8); // one of three failed
  expect(promtool(file)).toEqual({ status: 0, out: expect.any(String) });
  const text = readFileSync(file, 'utf8');
  for (const ns of ['tenant-1', 'tenant-2']) {
    expect(sample(text, 'xsoar_cert_not_after_timestamp_seconds', ns)).toBe(
      Date.parse((await certOf(ns)).validTo) / 1000,
    );
    expect(sample(text, 'xsoar_cert_renewal_last_result', ns)).toBe(0);
    expect(sample(text, 'xsoar_cert_renewal_failures_total', ns)).toBe(0);
  }
  const failed = text
    .split('\n')
    .find((l) => l.startsWith('xsoar_cert_renewal_failures_total{namespace="tenant-3",secret="no-such-secret"} '));
  expect(failed).toMatch(/ 1$/);
});

test('renew --metrics-file reads the secrets again after its last write: the metrics show the new certificates', async () => {
  const list = path.join(sb.dir, 'daily-tenants.txt');
  writeFileSync(list, ['tenant-1/xsoar-tls', 'tenant-2/xsoar-tls'].join('\n') + '\n');
  const env = { ...sb.env, XSOAR_CERT_STATE_DIR: path.join(sb.dir, 'daily-state') };
  const file = path.join(sb.dir, 'daily.prom');
  const quiet = await runCli(['renew', '--self-signed', '--tenants-file', list, '--metrics-file', file], { env });
  expect(quiet.code).toBe(0);
  expect(quiet.stdout).toMatch(/not due/);
  const before = readFileSync(file, 'utf8');
  expect(sample(before, 'xsoar_cert_not_after_timestamp_seconds', 'tenant-1')).toBe(
    Date.parse((await certOf('tenant-1')).validTo) / 1000,
  );
  await sb.control('requests', undefined, 'DELETE');
  const forced = await runCli(['renew', '--self-signed', '--force', '--tenants-file', list, '--metrics-file', file], {
    env,
  });
  expect(forced.code).toBe(0);
  const log: Array<{ method: string; path: string }> = await sb.requests();
  const lastWrite = log.map((e) => e.method !== 'GET' && /\/secrets\//.test(e.path)).lastIndexOf(true);
  const lastList = log.map((e) => e.method === 'GET' && e.path === '/api/v1/secrets').lastIndexOf(true);
  expect(lastWrite).toBeGreaterThan(0);
  expect(lastList).toBeGreaterThan(lastWrite);
  const after = readFileSync(file, 'utf8');
  for (const ns of ['tenant-1', 'tenant-2'])
    expect(sample(after, 'xsoar_cert_not_after_timestamp_seconds', ns)).toBe(
      Date.parse((await certOf(ns)).validTo) / 1000,
    );
  expect(sample(after, 'xsoar_cert_not_after_timestamp_seconds', 'tenant-1')).not.toBe(
    sample(before, 'xsoar_cert_not_after_timestamp_seconds', 'tenant-1'),
  );
}, 60000);
