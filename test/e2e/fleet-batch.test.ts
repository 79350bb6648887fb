// The batched fleet transaction: each step is one kubectl call for every tenant, and each
// tenant still ends either on the new certificate (live) or on its old one (byte-identical, served).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let tenantsFile: string;
const names = ['localhost', '127.0.0.1', ...Array.from({ length: 6 }, (_, i) => `tenant-${i + 1}.xsoar.local`)];
beforeAll(async () => {
  sb = await startSandbox({ tenants: 6, rolloutDelayMs: 50, progressDeadlineMs: 1500, inlinePods: true });
  tenantsFile = path.join(sb.dir, 'tenants.txt');
  writeFileSync(tenantsFile, sb.tenants.map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`).join('\n') + '\n');
}, 60000);
afterAll(async () => sb?.stop());

const install = (m: MintedChain, extra: string[] = []) =>
  runCli(installArgs(m, ['--tenants-file', tenantsFile, '--yes', '--json', '--timeout', '20', ...extra]), {
    env: sb.env,
  });

test('six tenants in one batched run: one cluster-wide read, one write per object, every tenant serves the new cert', async () => {
  const m = await mintChain({ intermediates: 1, hosts: names });
  await sb.control('requests', undefined, 'DELETE');
  const r = await install(m);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.tenants.every((x: { ok: boolean; confirmed: boolean }) => x.ok && x.confirmed)).toBe(true);
  for (const t of sb.tenants) expect((await sb.servedCert(t.endpoint)).sha256).toBe(fp(m));
  const log: Array<{ method: string; path: string; query: string }> = await sb.requests();
  const count = (method: string, re: RegExp) => log.filter((e) => e.method === method && re.test(e.path)).length;
  // Every tenant's secret in one list; their previous versions in one more, metadata only.
  const lists = log.filter((e) => e.method === 'GET' && e.path === '/api/v1/secrets').map((e) => e.query);
  expect(lists.map((q) => new URLSearchParams(q).get('labelSelector')).sort()).toEqual([
    '!xsoar-cert.io/previous-of',
    'xsoar-cert.io/previous-of',
  ]);
  expect(count('GET', /^\/api\/v1\/namespaces\/[^/]+\/secrets\/xsoar-tls$/)).toBe(0); // no per-tenant reads
  expect(count('POST', /^\/api\/v1\/namespaces\/tenant-\d\/secrets$/)).toBe(6); // backups
  expect(count('PUT', /^\/api\/v1\/namespaces\/tenant-\d\/secrets\/xsoar-tls$/)).toBe(6);
  // The restarts: `rollout restart`'s patch of restartedAt alone, never a PUT of the whole deployment.
  expect(count('PATCH', /^\/apis\/apps\/v1\/namespaces\/tenant-\d\/deployments\/xsoar-proxy$/)).toBe(6);
  expect(count('PUT', /\/deployments\//)).toBe(0);
  const audit = JSON.parse((await runCli(['audit', '--json'], { env: sb.env })).stdout);
  expect(
    audit.filter(
      (a: { result: string; newFingerprint: string }) => a.result === 'installed' && a.newFingerprint === fp(m),
    ),
  ).toHaveLength(6);
}, 60000);

test('denied, failed rollout and concurrent change in one run: each such tenant keeps its old cert, the rest get the new one (exit 8)', async () => {
  const m = await mintChain({ intermediates: 1, hosts: names });
  const before = await Promise.all(sb.tenants.map((t) => sb.secretData(t.namespace, t.secret)));
  const served = await Promise.all(sb.tenants.map((t) => sb.servedCert(t.endpoint)));
  await sb.setAuthz({ deny: [{ verb: 'update', resource: 'secrets', namespace: 'tenant-2' }] });
  await sb.setRollout({ namespace: 'tenant-3', deployment: 'xsoar-proxy', mode: 'fail' });
  await sb.fault({
    match: { method: 'PUT', path: '/namespaces/tenant-4/secrets/xsoar-tls' },
    action: 'status',
    status: 409,
    reason: 'Conflict',
    message: 'the object has been modified; please apply your changes to the latest version and try again',
  });
  const r = await install(m);
  await sb.setAuthz({ reset: true });
  await sb.clearFaults();
  expect(r.code).toBe(8);
  const out = JSON.parse(r.stdout);
  const by = (ns: string) => out.tenants.find((x: { namespace: string }) => x.namespace === ns);
  expect(by('tenant-2')).toMatchObject({ ok: false, exitCode: 4 });
  expect(by('tenant-2').error).toMatch(/permission denied: this user cannot update secrets in namespace "tenant-2"/);
  expect(by('tenant-3')).toMatchObject({ ok: false, exitCode: 5 });
  expect(by('tenant-3').error).toMatch(/rolled back/);
  expect(by('tenant-4')).toMatchObject({ ok: false, exitCode: 7 });
  for (const ns of ['tenant-1', 'tenant-5', 'tenant-6']) expect(by(ns)).toMatchObject({ ok: true, confirmed: true });
  for (const [i, t] of sb.tenants.entries()) {
    const now = (await sb.servedCert(t.endpoint)).sha256;
    if ([1, 2, 3].includes(i)) {
      expect(await sb.secretData(t.namespace, t.secret)).toEqual(before[i]); // byte-identical
      expect(now).toBe(served[i]!.sha256);
    } else expect(now).toBe(fp(m));
  }
  // Nothing left half-done: no markers, so status reports no interrupted run.
  const st = JSON.parse((await runCli(['status', '--tenants-file', tenantsFile, '--json'], { env: sb.env })).stdout);
  expect(st.tenants.every((x: { interrupted: unknown; agree: boolean }) => x.interrupted === null && x.agree)).toBe(
    true,
  );
}, 90000);

test('--dry-run on the fleet changes nothing and reports each tenant', async () => {
  const m = await mintChain({ intermediates: 1, hosts: names });
  const before = await sb.state();
  const r = await install(m, ['--dry-run']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.tenants.map((x: { result: string }) => x.result)).toEqual(Array(6).fill('dry-run'));
  expect(r.stdout).not.toContain(Buffer.from(m.leaf.keyPem).toString('base64').slice(0, 40));
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
});

test('each tenant keeps its three newest distinct previous certificates; older ones are pruned in one call', async () => {
  const ms = await Promise.all([0, 1, 2, 3].map(() => mintChain({ intermediates: 1, hosts: names })));
  for (const m of ms) expect((await install(m)).code).toBe(0);
  for (const t of sb.tenants) {
    const r = await sb.kubectl([
      'get',
      'secrets',
      '-n',
      t.namespace,
      '-l',
      `xsoar-cert.io/previous-of=${t.secret}`,
      '-o',
      'jsonpath={range .items[*]}{.metadata.annotations.xsoar-cert\\.io/fingerprint}{"\\n"}{end}',
    ]);
    expect(r.stdout.trim().split('\n').sort()).toEqual(ms.slice(0, 3).map(fp).sort());
  }
}, 120000);

test('a user with namespaced roles only (no list across namespaces) still gets the fleet installed, one tenant at a time', async () => {
  const m = await mintChain({ intermediates: 1, hosts: names });
  await sb.setAuthz({
    deny: [
      { verb: 'list', resource: 'secrets', scope: 'cluster' },
      { verb: 'list', resource: 'deployments', scope: 'cluster' },
    ],
  });
  const r = await runCli(installArgs(m, ['--tenants-file', tenantsFile, '--yes', '--timeout', '20']), { env: sb.env });
  const st = await runCli(['status', '--tenants-file', tenantsFile, '--json'], { env: sb.env }); // per tenant, too
  await sb.setAuthz({ reset: true });
  expect(st.code).toBe(0);
  expect(JSON.parse(st.stdout).tenants.map((x: { installed: { sha256: string } }) => x.installed.sha256)).toEqual(
    Array(6).fill(fp(m)),
  );
  expect(r.stderr).toMatch(/cannot list secrets or deployments across namespaces: installing one tenant at a time/);
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n').pop()).toBe('6 ok, 0 failed');
  for (const t of sb.tenants) expect((await sb.servedCert(t.endpoint)).sha256).toBe(fp(m));
  // renew takes the same road
  await sb.setAuthz({
    deny: [
      { verb: 'list', resource: 'secrets', scope: 'cluster' },
      { verb: 'list', resource: 'deployments', scope: 'cluster' },
    ],
  });
  const rn = await runCli(['renew', '--self-signed', '--force', '--tenants-file', tenantsFile, '--timeout', '20'], {
    env: sb.env,
  });
  await sb.setAuthz({ reset: true });
  expect(rn.stderr).toMatch(/cannot list secrets or deployments across namespaces: renewing one tenant at a time/);
  expect(rn.code).toBe(0);
  expect(rn.stdout.trim().split('\n').pop()).toBe('6 ok, 0 failed');
  for (const t of sb.tenants) {
    const served = new X509Certificate((await sb.servedCert(t.endpoint)).pem);
    expect(served.issuer).toBe(served.subject); // renewed: a new self-signed certificate
  }
}, 90000);

test('renew of the fleet: one read of every secret, the due tenants renewed in one batch, the rest skipped', async () => {
  const short = await mintChain({ intermediates: 1, hosts: names }); // 90 days
  const long = await mintChain({ intermediates: 1, hosts: names, leaf: { days: 365 } });
  expect((await install(short)).code).toBe(0);
  const later = path.join(sb.dir, 'tenants-4-6.txt');
  writeFileSync(
    later,
    sb.tenants
      .slice(3)
      .map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`)
      .join('\n') + '\n',
  );
  expect((await runCli(installArgs(long, ['--tenants-file', later, '--yes']), { env: sb.env })).code).toBe(0);

  await sb.control('requests', undefined, 'DELETE');
  const r = await runCli(
    ['renew', '--self-signed', '--before', '100', '--tenants-file', tenantsFile, '--json', '--timeout', '20'],
    { env: sb.env },
  );
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.tenants.map((x: { action: string }) => x.action)).toEqual([
    'renewed',
    'renewed',
    'renewed',
    'skipped',
    'skipped',
    'skipped',
  ]);
  for (const [i, t] of sb.tenants.entries()) {
    const served = new X509Certificate((await sb.servedCert(t.endpoint)).pem);
    if (i < 3) {
      expect(served.issuer).toBe(served.subject); // the new self-signed certificate...
      expect(served.subjectAltName).toBe(new X509Certificate(short.leaf.certPem).subjectAltName); // ...with the same names
    } else expect(served.fingerprint256).toBe(fp(long));
  }
  const log: Array<{ method: string; path: string }> = await sb.requests();
  expect(
    log.filter((e) => e.method === 'GET' && /^\/api\/v1\/namespaces\/tenant-\d\/secrets\/xsoar-tls$/.test(e.path)),
  ).toHaveLength(0);
  expect(log.filter((e) => e.method === 'PUT' && /\/secrets\/xsoar-tls$/.test(e.path))).toHaveLength(3);
  const audit = JSON.parse((await runCli(['audit', '--json'], { env: sb.env })).stdout);
  expect(
    audit.slice(-3).map((a: { op: string; result: string; namespace: string }) => [a.op, a.result, a.namespace]),
  ).toEqual([
    ['renew', 'installed', 'tenant-1'],
    ['renew', 'installed', 'tenant-2'],
    ['renew', 'installed', 'tenant-3'],
  ]);
}, 120000);

test('Ctrl-C (SIGINT) while the fleet rollouts run: every changed tenant is rolled back, old data byte-identical and served', async () => {
  const { spawn } = await import('node:child_process');
  const { BIN } = await import('../helpers/run-cli.js');
  const m = await mintChain({ intermediates: 1, hosts: names });
  const before = await Promise.all(sb.tenants.map((t) => sb.secretData(t.namespace, t.secret)));
  const served = await Promise.all(sb.tenants.map((t) => sb.servedCert(t.endpoint)));
  await sb.setRollout({ namespace: 'tenant-2', deployment: 'xsoar-proxy', mode: 'stuck' });
  const child = spawn(
    process.execPath,
    [BIN, ...installArgs(m, ['--tenants-file', tenantsFile, '--yes', '--timeout', '30'])],
    { env: { ...sb.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const done = new Promise<number>((r) => child.on('close', (code) => r(code ?? -1)));
  while (!/Restart: \d+ deployments/.test(stderr)) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // inside the wait for the (stuck) rollouts
  child.kill('SIGINT');
  const code = await done;
  expect(stderr).toMatch(/SIGINT: stopping and restoring the previous certificate/);
  expect(code).toBe(8);
  expect(stdout).toMatch(/0 ok, 6 failed/);
  expect(stdout).toMatch(/interrupted/);
  for (const [i, t] of sb.tenants.entries()) {
    expect(await sb.secretData(t.namespace, t.secret)).toEqual(before[i]);
    expect((await sb.servedCert(t.endpoint)).sha256).toBe(served[i]!.sha256);
  }
  const { readdirSync, existsSync } = await import('node:fs');
  const markers = path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'markers');
  expect(existsSync(markers) ? readdirSync(markers) : []).toHaveLength(0);
}, 120000);

test('a tenant whose secret is Opaque (not kubernetes.io/tls) is read on its own and installed with the rest', async () => {
  const t6 = sb.tenants[5]!;
  const json = JSON.parse((await sb.kubectl(['get', 'secret', t6.secret, '-n', t6.namespace, '-o', 'json'])).stdout);
  expect((await sb.kubectl(['delete', 'secret', t6.secret, '-n', t6.namespace])).code).toBe(0);
  const opaque = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: t6.secret, namespace: t6.namespace, labels: json.metadata.labels },
    data: json.data,
  };
  expect((await sb.kubectl(['create', '-f', '-', '--validate=false'], JSON.stringify(opaque))).code).toBe(0);
  const m = await mintChain({ intermediates: 1, hosts: names });
  const r = await install(m);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).tenants.every((x: { ok: boolean }) => x.ok)).toBe(true);
  expect((await sb.servedCert(t6.endpoint)).sha256).toBe(fp(m));
  const after = JSON.parse((await sb.kubectl(['get', 'secret', t6.secret, '-n', t6.namespace, '-o', 'json'])).stdout);
  expect(after.type).toBe('Opaque'); // its type is kept
}, 90000);

test('two secrets served by one deployment: both replaced, the deployment restarted once', async () => {
  const t1 = sb.tenants[0]!;
  const cur = JSON.parse((await sb.kubectl(['get', 'secret', t1.secret, '-n', t1.namespace, '-o', 'json'])).stdout);
  const second = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: cur.type,
    metadata: { name: 'xsoar-tls-admin', namespace: t1.namespace },
    data: cur.data,
  };
  expect((await sb.kubectl(['create', '-f', '-', '--validate=false'], JSON.stringify(second))).code).toBe(0);
  const dep = JSON.parse(
    (await sb.kubectl(['get', 'deployment', t1.deployment, '-n', t1.namespace, '-o', 'json'])).stdout,
  );
  dep.spec.template.spec.volumes.push({ name: 'tls-admin', secret: { secretName: 'xsoar-tls-admin' } });
  expect((await sb.kubectl(['replace', '-f', '-', '--validate=false'], JSON.stringify(dep))).code).toBe(0);
  const file = path.join(sb.dir, 'two-secrets.txt');
  writeFileSync(file, `${t1.namespace}/${t1.secret} ${t1.endpoint}\n${t1.namespace}/xsoar-tls-admin\n`);
  const m = await mintChain({ intermediates: 1, hosts: names });
  await sb.control('requests', undefined, 'DELETE');
  const r = await runCli(installArgs(m, ['--tenants-file', file, '--yes', '--json', '--timeout', '20']), {
    env: sb.env,
  });
  expect(r.code).toBe(0);
  const log: Array<{ method: string; path: string }> = await sb.requests();
  expect(
    log.filter(
      (e) => e.method === 'PATCH' && e.path === `/apis/apps/v1/namespaces/${t1.namespace}/deployments/${t1.deployment}`,
    ),
  ).toHaveLength(1);
  for (const name of [t1.secret, 'xsoar-tls-admin']) {
    const data = await sb.secretData(t1.namespace, name);
    expect(new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64')).fingerprint256).toBe(fp(m));
  }
  expect((await sb.servedCert(t1.endpoint)).sha256).toBe(fp(m));
}, 90000);
