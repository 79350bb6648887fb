// The sandbox answers the real kubectl as a cluster would (README "Sandbox cluster";
// ../shared/kubectl-http-trace.md): these tests drive /usr/bin/kubectl against it.
import { startSandbox, type Sandbox, type Tenant } from '../helpers/sandbox.js';
import { mintChain } from '../helpers/test-ca.js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';

let sb: Sandbox;
let t: Tenant;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 100, progressDeadlineMs: 1500 });
  t = sb.tenants[0]!;
});
afterAll(async () => sb?.stop());
afterEach(async () => {
  await sb.clearFaults();
  await sb.setAuthz({ reset: true });
});

const ns = () => ['-n', t.namespace];

/** `kubectl rollout restart`, waiting out kubectl's one-restart-per-second guard (restartedAt has 1 s resolution). */
async function restart(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await sb.kubectl(['rollout', 'restart', `deployment/${t.deployment}`, ...ns()]);
    if (r.code === 0) return;
    if (!/within the past second/.test(r.stderr)) throw new Error(`rollout restart failed: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 1100));
  }
  throw new Error('rollout restart kept being refused');
}

const rolloutStatus = (timeout = '20s') =>
  sb.kubectl(['rollout', 'status', `deployment/${t.deployment}`, ...ns(), `--timeout=${timeout}`]);

/** A manifest for the tenant secret made by kubectl itself, from a freshly minted chain. */
async function tlsManifest(name = t.secret) {
  const m = await mintChain({ intermediates: 1 });
  const dry = await sb.kubectl([
    'create',
    'secret',
    'tls',
    name,
    ...ns(),
    `--cert=${m.files.fullchain}`,
    `--key=${m.files.key}`,
    '--dry-run=client',
    '-o',
    'yaml',
  ]);
  expect(dry.code).toBe(0);
  return {
    yaml: dry.stdout,
    leafSha256: new X509Certificate(readFileSync(m.files.leaf)).fingerprint256,
    files: m.files,
  };
}

test('discovery: /version answers minor 32; /api serves aggregated and legacy discovery by Accept', async () => {
  const v = await sb.kubectl(['version', '-o', 'json']);
  expect(JSON.parse(v.stdout).serverVersion.minor).toBe('32');
  const legacy: any = await (await fetch(`${sb.url}/api`, { headers: { accept: 'application/json, */*' } })).json();
  expect(legacy.kind).toBe('APIVersions');
  const groups: any = await (await fetch(`${sb.url}/apis`)).json();
  expect(groups.kind).toBe('APIGroupList');
  expect(groups.groups.map((g: any) => g.name)).toContain('apps');
  const apps: any = await (await fetch(`${sb.url}/apis/apps/v1`)).json();
  expect(apps.resources.map((r: any) => r.name)).toContain('deployments');
  const agg = await fetch(`${sb.url}/apis`, {
    headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' },
  });
  expect(agg.headers.get('content-type')).toContain('as=APIGroupDiscoveryList');
});

test('typed create (protobuf), get, replace with a stale resourceVersion (409), delete, NotFound', async () => {
  const m = await mintChain();
  const created = await sb.kubectl([
    'create',
    'secret',
    'tls',
    'crud',
    ...ns(),
    `--cert=${m.files.leaf}`,
    `--key=${m.files.key}`,
  ]);
  expect(created.stdout).toMatch(/secret\/crud created/);
  const again = await sb.kubectl([
    'create',
    'secret',
    'tls',
    'crud',
    ...ns(),
    `--cert=${m.files.leaf}`,
    `--key=${m.files.key}`,
  ]);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/secrets "crud" already exists/);
  const live = JSON.parse((await sb.kubectl(['get', 'secret', 'crud', ...ns(), '-o', 'json'])).stdout);
  expect(live.type).toBe('kubernetes.io/tls');
  expect(Buffer.from(live.data['tls.crt'], 'base64').toString()).toBe(readFileSync(m.files.leaf, 'utf8'));
  // Someone else changes it: the saved copy's resourceVersion is now stale.
  expect((await sb.kubectl(['label', 'secret', 'crud', ...ns(), 'changed=yes'])).code).toBe(0);
  const stale = await sb.kubectl(['replace', '--validate=false', '-f', '-'], JSON.stringify(live));
  expect(stale.code).toBe(1);
  expect(stale.stderr).toMatch(
    /Error from server \(Conflict\).*Operation cannot be fulfilled on secrets "crud": the object has been modified/,
  );
  delete live.metadata.resourceVersion;
  expect((await sb.kubectl(['replace', '--validate=false', '-f', '-'], JSON.stringify(live))).stdout).toMatch(
    /secret\/crud replaced/,
  );
  expect((await sb.kubectl(['delete', 'secret', 'crud', ...ns()])).stdout).toMatch(/secret "crud" deleted/);
  const gone = await sb.kubectl(['get', 'secret', 'crud', ...ns(), '-o', 'json']);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/Error from server \(NotFound\): secrets "crud" not found/);
});

test('create --dry-run | apply: created, then configured with no new resourceVersion; Table output', async () => {
  const { yaml } = await tlsManifest('applied');
  expect((await sb.kubectl(['apply', '-f', '-'], yaml)).stdout).toMatch(/secret\/applied created/);
  const rv1 = (await sb.kubectl(['get', 'secret', 'applied', ...ns(), '-o', 'jsonpath={.metadata.resourceVersion}']))
    .stdout;
  const second = await sb.kubectl(['apply', '-f', '-'], yaml);
  expect(second.stdout).toMatch(/secret\/applied configured/);
  // The patch only carries creationTimestamp: null, a no-op that must not bump the resourceVersion.
  expect(
    (await sb.kubectl(['get', 'secret', 'applied', ...ns(), '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout,
  ).toBe(rv1);
  const tableOut = await sb.kubectl(['get', 'secrets', ...ns()]);
  expect(tableOut.stdout).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE/);
  expect(tableOut.stdout).toMatch(/\napplied\s+kubernetes\.io\/tls\s+2\s+\d+s/);
  const all = JSON.parse(
    (await sb.kubectl(['get', 'secrets', '-A', '-l', 'app.kubernetes.io/part-of=xsoar', '-o', 'json'])).stdout,
  );
  expect(all.items.map((s: any) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual([
    `${t.namespace}/${t.secret}`,
  ]);
  expect((await sb.kubectl(['delete', 'secret', 'applied', ...ns()])).code).toBe(0);
});

test('a secret change alone is not served; rollout restart + status really switches the endpoint', async () => {
  const before = await sb.servedCert(t.endpoint);
  const { yaml, leafSha256 } = await tlsManifest();
  expect((await sb.kubectl(['apply', '-f', '-'], yaml)).stdout).toMatch(/configured/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);
  const podBefore = (await sb.state()).tenants[0].pod;
  await restart();
  const st = await rolloutStatus();
  expect(st.stdout).toMatch(/deployment "xsoar-proxy" successfully rolled out/);
  const after = await sb.servedCert(t.endpoint, { servername: 'localhost' });
  expect(after.sha256).toBe(leafSha256);
  expect((await sb.servedCert(t.endpoint, { maxVersion: 'TLSv1.2' })).sha256).toBe(leafSha256);
  const podAfter = (await sb.state()).tenants[0].pod;
  expect(podAfter.name).not.toBe(podBefore.name);
  // The old pod process is gone and no pod got key material through argv.
  expect(() => process.kill(podBefore.pid, 0)).toThrow();
  expect(readFileSync(`/proc/${podAfter.pid}/cmdline`, 'utf8')).not.toMatch(/PRIVATE KEY/);
});

test('auth can-i and --list follow the authz policy; a denied write is a 403 worded like the apiserver', async () => {
  expect((await sb.kubectl(['auth', 'can-i', 'update', 'secrets', ...ns()])).stdout.trim()).toBe('yes');
  await sb.setAuthz({ deny: [{ verb: 'patch', resource: 'secrets', namespace: t.namespace }] });
  const no = await sb.kubectl(['auth', 'can-i', 'patch', 'secrets', ...ns()]);
  expect(no.stdout.trim()).toBe('no');
  expect(no.code).toBe(1);
  expect((await sb.kubectl(['auth', 'can-i', 'patch', 'secrets', '-n', 'default'])).stdout.trim()).toBe('yes');
  const denied = await sb.kubectl(['label', 'secret', t.secret, ...ns(), 'x=y']);
  expect(denied.stderr).toMatch(
    /Error from server \(Forbidden\): secrets "xsoar-tls" is forbidden: User "sandbox-admin" cannot patch resource "secrets" in API group "" in the namespace "tenant|xsoar/,
  );
  await sb.setAuthz({ user: 'viewer', readOnly: true });
  expect((await sb.kubectl(['auth', 'can-i', 'get', 'secrets', ...ns(), '--as', 'viewer'])).stdout.trim()).toBe('yes');
  expect((await sb.kubectl(['auth', 'can-i', 'update', 'secrets', ...ns(), '--as', 'viewer'])).stdout.trim()).toBe(
    'no',
  );
  const list = await sb.kubectl(['auth', 'can-i', '--list', ...ns(), '--as', 'viewer']);
  expect(list.stdout).toMatch(/\nsecrets\s+\[\]\s+\[\]\s+\[get list watch\]/);
  expect(list.stdout).toMatch(/\ndeployments\.apps\s+\[\]\s+\[\]\s+\[get list watch\]/);
  const del = await sb.kubectl(['delete', 'secret', t.secret, ...ns(), '--as', 'viewer']);
  expect(del.stderr).toMatch(/Forbidden.*User "viewer" cannot delete resource "secrets"/);
  expect(await sb.secretData(t.namespace, t.secret)).toBeDefined();
});

test('faults: status on a write fails kubectl; nth picks the request; a dropped GET is retried; a dropped write fails', async () => {
  await sb.fault({ match: { method: 'POST', path: '/secrets$' }, action: 'status', status: 500 });
  const c = await sb.kubectl(['create', 'secret', 'generic', 'f1', ...ns(), '--from-literal=a=b']);
  expect(c.code).toBe(1);
  expect(c.stderr).toMatch(/InternalError|injected fault/);
  expect((await sb.kubectl(['create', 'secret', 'generic', 'f1', ...ns(), '--from-literal=a=b'])).code).toBe(0);

  // nth: 2 leaves the first matching GET alone and fails the second.
  await sb.fault({
    match: { method: 'GET', path: '/secrets/f1$' },
    nth: 2,
    action: 'status',
    status: 503,
    reason: 'ServiceUnavailable',
    message: 'try later',
  });
  expect((await sb.kubectl(['get', 'secret', 'f1', ...ns(), '-o', 'name'])).code).toBe(0);
  const second = await sb.kubectl(['get', 'secret', 'f1', ...ns(), '-o', 'name']);
  expect(second.code).toBe(1);
  expect(second.stderr).toMatch(/ServiceUnavailable|try later/);
  await sb.clearFaults();

  // A 5xx with Retry-After is retried by client-go, so kubectl succeeds.
  await sb.fault({ match: { method: 'GET', path: '/secrets/f1$' }, action: 'status', status: 503, retryAfter: 1 });
  expect((await sb.kubectl(['get', 'secret', 'f1', ...ns(), '-o', 'name'])).code).toBe(0);
  expect((await sb.control('faults'))[0].fired).toBe(1);
  await sb.clearFaults();

  await sb.fault({ match: { method: 'GET', path: '/secrets/f1$' }, action: 'drop' });
  expect((await sb.kubectl(['get', 'secret', 'f1', ...ns(), '-o', 'name'])).code).toBe(0);
  await sb.fault({ match: { method: 'DELETE', path: '/secrets/f1$' }, action: 'drop' });
  const del = await sb.kubectl(['delete', 'secret', 'f1', ...ns()]);
  expect(del.code).toBe(1);
  expect(del.stderr).toMatch(/EOF|connection reset|closed/i);
  expect(await sb.secretData(t.namespace, 'f1')).toBeDefined();

  // delay: a request that outlasts kubectl's --request-timeout fails; the server still counts it.
  await sb.fault({ match: { method: 'GET', path: '/secrets/f1$' }, times: -1, action: 'delay', delayMs: 3000 });
  const slow = await sb.kubectl(['get', 'secret', 'f1', ...ns(), '-o', 'name', '--request-timeout=1s']);
  expect(slow.code).toBe(1);
  const faults = await sb.control('faults');
  expect(faults[0].fired).toBeGreaterThanOrEqual(1);
  await sb.clearFaults();
  expect((await sb.kubectl(['delete', 'secret', 'f1', ...ns()])).code).toBe(0);
});

test('the dispatcher /version probe is not counted by faults unless they match on userAgent', async () => {
  await sb.fault({ match: { path: '^/version$' }, action: 'status', status: 500 });
  // kubectl's own /version (from `kubectl version`) is the first match, not the dispatcher's probe.
  const v = await sb.kubectl(['version', '-o', 'json']);
  expect(v.code).toBe(1);
  const log = await sb.requests();
  const versions = log.filter((r: any) => r.path === '/version').slice(-2);
  expect(versions.map((r: any) => [r.userAgent.split('/')[0], r.status])).toEqual([
    ['kubectl-dispatcher', 200],
    ['kubectl', 500],
  ]);
});

test('rollout modes: stuck times out, fail exceeds the deadline, unobserved waits, each is one-shot; the old pod keeps serving', async () => {
  const before = await sb.servedCert(t.endpoint);
  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'stuck' });
  await restart();
  const stuck = await rolloutStatus('2s');
  expect(stuck.code).toBe(1);
  expect(stuck.stderr).toMatch(/timed out waiting for the condition/);
  expect(stuck.stdout).toMatch(/old replicas are pending termination/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);

  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'fail', deadlineMs: 300 });
  await restart();
  const failed = await rolloutStatus();
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/deployment "xsoar-proxy" exceeded its progress deadline/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);

  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'unobserved' });
  await restart();
  const unobserved = await rolloutStatus('1s');
  expect(unobserved.code).toBe(1);
  expect(unobserved.stdout).toMatch(/Waiting for deployment spec update to be observed/);

  // The next restart (e.g. a rollback's) completes.
  await restart();
  expect((await rolloutStatus()).stdout).toMatch(/successfully rolled out/);
});

test('a pod that cannot start (key does not match the cert) fails the rollout; the old pod keeps serving', async () => {
  const before = await sb.servedCert(t.endpoint);
  const a = await mintChain();
  const b = await mintChain();
  // kubectl's `create secret tls` refuses a mismatched pair, so write the data with a merge patch.
  const patch = {
    data: {
      'tls.crt': readFileSync(a.files.leaf).toString('base64'),
      'tls.key': readFileSync(b.files.key).toString('base64'),
    },
  };
  expect(
    (await sb.kubectl(['patch', 'secret', t.secret, ...ns(), '--type=merge', '-p', JSON.stringify(patch)])).code,
  ).toBe(0);
  await restart();
  const st = await rolloutStatus();
  expect(st.code).toBe(1);
  expect(st.stderr).toMatch(/exceeded its progress deadline/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);
  expect((await sb.state()).tenants[0].lastError).toMatch(/container exited/);
  // Put a good pair back (as a rollback would) and the next rollout completes.
  const { yaml } = await tlsManifest();
  expect((await sb.kubectl(['apply', '-f', '-'], yaml)).code).toBe(0);
  await restart();
  expect((await rolloutStatus()).code).toBe(0);
});

test('tenant-tls narrows the served TLS versions through the pod env', async () => {
  const r = await sb.setTenantTls({ namespace: t.namespace, max: 'TLSv1.2' });
  expect(r.ok).toBe(true);
  await expect(sb.servedCert(t.endpoint, { minVersion: 'TLSv1.3' })).rejects.toThrow();
  await sb.servedCert(t.endpoint, { maxVersion: 'TLSv1.2' });
  await sb.setTenantTls({ namespace: t.namespace });
  await sb.servedCert(t.endpoint, { minVersion: 'TLSv1.3' });
});

test('resourceVersions strictly increase across writes and watch events carry them', async () => {
  const rvs: number[] = [];
  for (const v of ['1', '2', '3']) {
    await sb.kubectl(['annotate', '--overwrite', 'secret', t.secret, ...ns(), `n=${v}`]);
    rvs.push(
      Number(
        (await sb.kubectl(['get', 'secret', t.secret, ...ns(), '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout,
      ),
    );
  }
  expect(rvs[1]!).toBeGreaterThan(rvs[0]!);
  expect(rvs[2]!).toBeGreaterThan(rvs[1]!);
  const res = await fetch(
    `${sb.url}/api/v1/namespaces/${t.namespace}/secrets?watch=true&timeoutSeconds=1&resourceVersion=${rvs[0]}&fieldSelector=metadata.name%3D${t.secret}`,
  );
  const events = (await res.text())
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(events.map((e) => [e.type, Number(e.object.metadata.resourceVersion)])).toEqual([
    ['MODIFIED', rvs[1]],
    ['MODIFIED', rvs[2]],
  ]);
});

test('a metadata-only list (PartialObjectMetadataList) names the secrets without their data', async () => {
  const accept = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
  const meta: any = await (await fetch(`${sb.url}/api/v1/secrets`, { headers: { accept } })).json();
  const full: any = await (await fetch(`${sb.url}/api/v1/secrets`)).json();
  expect(meta.kind).toBe('PartialObjectMetadataList');
  expect(meta.items.map((i: any) => i.metadata.name)).toEqual(full.items.map((i: any) => i.metadata.name));
  expect(meta.items.every((i: any) => i.kind === 'PartialObjectMetadata' && i.data === undefined)).toBe(true);
  expect(full.items.some((i: any) => i.data)).toBe(true);
});
