// probe against the sandbox's tenant proxy: TLS 1.2 only, TLS 1.3 only, a missing intermediate.
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ tenants: 2, rolloutDelayMs: 50 });
});
afterAll(async () => sb?.stop());

test('TLS 1.2-only and TLS 1.3-only tenants are told apart', async () => {
  const [a, b] = sb.tenants;
  await sb.setTenantTls({ namespace: a!.namespace, max: 'TLSv1.2' });
  await sb.setTenantTls({ namespace: b!.namespace, min: 'TLSv1.3' });
  const r = await runCli(['probe', a!.endpoint, b!.endpoint, '--json'], { env: sb.env });
  const [ra, rb] = JSON.parse(r.stdout);
  expect(ra.versions).toEqual({ TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': false });
  expect(rb.versions).toEqual({ TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': false, 'TLSv1.3': true });
  expect(r.code).toBe(1);
});

test('a tenant serving its leaf without the intermediate is reported as incomplete', async () => {
  const t = sb.tenants[0]!;
  await sb.setTenantTls({ namespace: t.namespace });
  const m = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
  const secret = JSON.parse((await sb.kubectl(['get', 'secret', t.secret, '-n', t.namespace, '-o', 'json'])).stdout);
  secret.data['tls.crt'] = Buffer.from(m.leaf.certPem).toString('base64');
  secret.data['tls.key'] = Buffer.from(m.leaf.keyPem).toString('base64');
  expect((await sb.kubectl(['replace', '--validate=false', '-f', '-'], JSON.stringify(secret))).code).toBe(0);
  await sb.kubectl(['rollout', 'restart', `deployment/${t.deployment}`, '-n', t.namespace]);
  expect(
    (await sb.kubectl(['rollout', 'status', `deployment/${t.deployment}`, '-n', t.namespace, '--timeout=20s'])).code,
  ).toBe(0);
  const r = await runCli(['probe', t.endpoint, '--ca', m.files.root, '--servername', 'localhost'], { env: sb.env });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/incomplete/);
  expect(r.stderr).toMatch(/missing intermediate: .*Test Intermediate 1/);
});
