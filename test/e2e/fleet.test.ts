// Several tenants at once: one tenant's failure rolls back that tenant only; exit 8.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain } from '../helpers/test-ca.js';
import { installArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ tenants: 4, rolloutDelayMs: 50, inlinePods: true });
});
afterAll(async () => sb?.stop());

test('a fleet install with one failing tenant: the others serve the new cert, the failed one the old, exit 8', async () => {
  const m = await mintChain({
    intermediates: 1,
    hosts: [
      'localhost',
      '127.0.0.1',
      'tenant-1.xsoar.local',
      'tenant-2.xsoar.local',
      'tenant-3.xsoar.local',
      'tenant-4.xsoar.local',
    ],
  });
  const file = path.join(sb.dir, 'tenants.txt');
  writeFileSync(
    file,
    '# namespace/secret endpoint\n' +
      sb.tenants.map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`).join('\n') +
      '\n',
  );
  const before = await Promise.all(sb.tenants.map((t) => sb.servedCert(t.endpoint)));
  await sb.fault({
    match: { method: 'PUT', path: '/namespaces/tenant-3/secrets/' },
    action: 'status',
    status: 500,
    times: -1,
  });
  const r = await runCli(installArgs(m, ['--tenants-file', file, '--parallel', '2', '--yes', '--json']), {
    env: sb.env,
  });
  await sb.clearFaults();
  expect(r.code).toBe(8);
  const out = JSON.parse(r.stdout);
  expect(out.tenants.map((x: { namespace: string; ok: boolean }) => [x.namespace, x.ok])).toEqual([
    ['tenant-1', true],
    ['tenant-2', true],
    ['tenant-3', false],
    ['tenant-4', true],
  ]);
  expect(out.tenants[2].exitCode).toBe(5);
  const want = fp(m);
  const after = await Promise.all(sb.tenants.map((t) => sb.servedCert(t.endpoint)));
  expect(after.map((a) => a.sha256)).toEqual([want, want, before[2]!.sha256, want]);
});

test('--all-namespaces --selector finds the tenants; renew of the fleet skips fresh certificates', async () => {
  const r = await runCli(
    ['renew', '--self-signed', '--all-namespaces', '--selector', 'app.kubernetes.io/part-of=xsoar', '--parallel', '4'],
    { env: sb.env },
  );
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^tenant-1\/xsoar-tls\s+ok\s+not due/m);
  expect(r.stdout.trim().split('\n').pop()).toBe('4 ok, 0 failed');
});

test('status of several tenants: one row each, installed vs served; a tenant serving another cert exits 1, an unreadable one 8', async () => {
  const file = path.join(sb.dir, 'tenants-status.txt');
  writeFileSync(file, sb.tenants.map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`).join('\n') + '\n');
  await sb.control('requests', undefined, 'DELETE');
  const r = await runCli(['status', '--tenants-file', file, '--json'], { env: sb.env });
  expect(r.code).toBe(0);
  // Read in two cluster-wide calls, not three per tenant.
  const log: Array<{ method: string; path: string }> = await sb.requests();
  expect(log.filter((e) => e.method === 'GET' && /^\/api\/v1\/secrets$/.test(e.path))).toHaveLength(1);
  expect(
    log.filter((e) => e.method === 'GET' && /^\/api\/v1\/namespaces\/tenant-\d\/secrets/.test(e.path)),
  ).toHaveLength(0);
  const out = JSON.parse(r.stdout);
  expect(out.ok).toBe(true);
  expect(out.tenants.map((x: { namespace: string }) => x.namespace)).toEqual([
    'tenant-1',
    'tenant-2',
    'tenant-3',
    'tenant-4',
  ]);
  for (const [i, x] of out.tenants.entries()) {
    expect(x.agree).toBe(true);
    const served = await sb.servedCert(sb.tenants[i]!.endpoint);
    expect(x.served.sha256).toBe(served.sha256);
    // renew's default: the last third of the lifetime
    const c = new X509Certificate(served.pem);
    const [from, to] = [Date.parse(c.validFrom), Date.parse(c.validTo)];
    expect(Math.abs(Date.parse(x.installed.renewAt) - (to - (to - from) / 3))).toBeLessThan(1000);
  }
  // The first test left tenant-3 with the old cert and the others with the new one: tenants 1 and 3 differ.
  expect(out.tenants[0].installed.sha256).not.toBe(out.tenants[2].installed.sha256);

  // Point tenant-2's row at tenant-1's endpoint: it now serves a different certificate than installed.
  const t = sb.tenants;
  writeFileSync(
    file,
    [
      `${t[0]!.namespace}/${t[0]!.secret} ${t[0]!.endpoint}`,
      `${t[2]!.namespace}/${t[2]!.secret} ${t[0]!.endpoint}`,
    ].join('\n') + '\n',
  );
  const table = await runCli(['status', '--tenants-file', file], { env: sb.env });
  expect(table.code).toBe(1);
  expect(table.stdout).toMatch(/^TENANT\s+INSTALLED\s+EXPIRES\s+RENEW DUE\s+SERVED\s+PREVIOUS$/m);
  expect(table.stdout).toMatch(
    /^tenant-1\/xsoar-tls\s+[0-9A-F:]{11}…\s+\d{4}-\d\d-\d\d \(\d+d\)\s+\d{4}-\d\d-\d\d\s+yes\s+\d+$/m,
  );
  expect(table.stdout).toMatch(/^tenant-3\/xsoar-tls\s+.*NO: differs/m);
  expect(table.stderr).toMatch(/1 of 2 tenants serve a different certificate/);

  // A tenant that does not exist: its row says so and the exit code is 8.
  const missing = await runCli(['status', '-n', 'tenant-1', '-n', 'no-such-tenant'], { env: sb.env });
  expect(missing.code).toBe(8);
  expect(missing.stdout).toMatch(/^no-such-tenant\/xsoar-tls\s+(secret not found|ERROR: .*)/m);
});
