// The sandbox answers the real kubectl as a cluster would (see README "Sandbox cluster").
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain } from '../helpers/test-ca.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 100 });
});
afterAll(async () => sb?.stop());

test('a secret change is served only after a rollout restart, as with a real proxy', async () => {
  const t = sb.tenants[0]!;
  const before = await sb.servedCert(t.endpoint);
  const m = await mintChain({ intermediates: 1 });
  const dry = await sb.kubectl(['create', 'secret', 'tls', t.secret, '-n', t.namespace, `--cert=${m.files.fullchain}`, `--key=${m.files.key}`, '--dry-run=client', '-o', 'yaml']);
  expect(dry.code).toBe(0);
  const applied = await sb.kubectl(['apply', '-n', t.namespace, '-f', '-'], dry.stdout);
  expect(applied.stdout).toMatch(/secret\/xsoar-tls configured/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);
  expect((await sb.kubectl(['rollout', 'restart', `deployment/${t.deployment}`, '-n', t.namespace])).code).toBe(0);
  const st = await sb.kubectl(['rollout', 'status', `deployment/${t.deployment}`, '-n', t.namespace, '--timeout=20s']);
  expect(st.stdout).toMatch(/successfully rolled out/);
  expect((await sb.servedCert(t.endpoint)).sha256).not.toBe(before.sha256);
});

test('replace with a stale resourceVersion is a 409 Conflict; get of a missing secret is NotFound', async () => {
  const t = sb.tenants[0]!;
  const cur = JSON.parse((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'json'])).stdout);
  cur.metadata.resourceVersion = '1';
  const r = await sb.kubectl(['replace', '--validate=false', '-f', '-'], JSON.stringify(cur));
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/Conflict.*the object has been modified/);
  const g = await sb.kubectl(['get', 'secret', 'nope', '-n', t.namespace, '-o', 'json']);
  expect(g.stderr).toMatch(/NotFound.*secrets "nope" not found/);
});

test('auth can-i follows injected denials; 403 on the write', async () => {
  const t = sb.tenants[0]!;
  expect((await sb.kubectl(['auth', 'can-i', 'update', 'secrets', '-n', t.namespace])).stdout.trim()).toBe('yes');
  await sb.setAuthz({ user: 'viewer', readOnly: true });
  expect((await sb.kubectl(['auth', 'can-i', 'update', 'secrets', '-n', t.namespace, '--as', 'viewer'])).stdout.trim()).toBe('no');
  const list = await sb.kubectl(['auth', 'can-i', '--list', '-n', t.namespace, '--as', 'viewer']);
  expect(list.stdout).toMatch(/secrets\s+\[\]\s+\[\]\s+\[get list watch\]/);
  const del = await sb.kubectl(['delete', 'secret', t.secret, '-n', t.namespace, '--as', 'viewer']);
  expect(del.stderr).toMatch(/Forbidden.*User "viewer" cannot delete resource "secrets"/);
});

test('faults: a 500 on a write fails kubectl; a dropped GET is retried by client-go', async () => {
  const t = sb.tenants[0]!;
  await sb.fault({ match: { method: 'POST', path: '/secrets$' }, action: 'status', status: 500 });
  const c = await sb.kubectl(['create', 'secret', 'generic', 'x1', '-n', t.namespace, '--from-literal=a=b']);
  expect(c.code).toBe(1);
  expect(c.stderr).toMatch(/InternalError|injected fault/);
  await sb.fault({ match: { method: 'GET', path: `/secrets/${t.secret}$` }, action: 'drop' });
  expect((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'name'])).code).toBe(0);
  await sb.clearFaults();
});

test('rollout modes: fail ends in ProgressDeadlineExceeded and the old pod keeps serving', async () => {
  const t = sb.tenants[0]!;
  const before = await sb.servedCert(t.endpoint);
  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'fail' });
  await sb.kubectl(['rollout', 'restart', `deployment/${t.deployment}`, '-n', t.namespace]);
  const st = await sb.kubectl(['rollout', 'status', `deployment/${t.deployment}`, '-n', t.namespace, '--timeout=20s']);
  expect(st.code).toBe(1);
  expect(st.stderr).toMatch(/exceeded its progress deadline/);
  expect((await sb.servedCert(t.endpoint)).sha256).toBe(before.sha256);
  await sb.setRollout({ namespace: t.namespace, deployment: t.deployment, mode: 'complete' });
});
