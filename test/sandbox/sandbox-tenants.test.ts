// Several tenants, custom tenant specs, in-process pods, and a clean stop.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox, type Tenant } from '../helpers/sandbox.js';
import { mintChain } from '../helpers/test-ca.js';

/** Install a fresh cert into one tenant with the hand-typed kubectl sequence; returns its fingerprint. */
async function installBy(sb: Sandbox, t: Tenant): Promise<string> {
  const m = await mintChain();
  const dry = await sb.kubectl([
    'create',
    'secret',
    'tls',
    t.secret,
    '-n',
    t.namespace,
    `--cert=${m.files.leaf}`,
    `--key=${m.files.key}`,
    '--dry-run=client',
    '-o',
    'yaml',
  ]);
  expect((await sb.kubectl(['apply', '-f', '-'], dry.stdout)).code).toBe(0);
  expect((await sb.kubectl(['rollout', 'restart', `deployment/${t.deployment}`, '-n', t.namespace])).code).toBe(0);
  const st = await sb.kubectl(['rollout', 'status', `deployment/${t.deployment}`, '-n', t.namespace, '--timeout=30s']);
  expect(st.stdout).toMatch(/successfully rolled out/);
  return new X509Certificate(readFileSync(m.files.leaf)).fingerprint256;
}

describe('two tenants with child-process pods', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ tenants: 2, rolloutDelayMs: 50 });
  });
  afterAll(async () => sb?.stop());

  test('each tenant has its own namespace, labelled objects, endpoint and seeded certificate', async () => {
    expect(sb.tenants.map((t) => t.namespace)).toEqual(['tenant-1', 'tenant-2']);
    const [a, b] = await Promise.all(sb.tenants.map((t) => sb.servedCert(t.endpoint)));
    expect(a!.sha256).not.toBe(b!.sha256);
    const leaf = new X509Certificate(a!.pem);
    expect(leaf.subjectAltName).toContain('DNS:tenant-1.xsoar.local');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
    const deps = JSON.parse(
      (await sb.kubectl(['get', 'deployments', '-A', '-l', 'app.kubernetes.io/part-of=xsoar', '-o', 'json'])).stdout,
    );
    expect(deps.items).toHaveLength(2);
    expect(deps.items[0].spec.template.spec.volumes[0].secret.secretName).toBe('xsoar-tls');
    const nsList = (await sb.kubectl(['get', 'ns', '-l', 'app.kubernetes.io/part-of=xsoar', '-o', 'name'])).stdout
      .trim()
      .split('\n');
    expect(nsList).toEqual(['namespace/tenant-1', 'namespace/tenant-2']);
  });

  test('a rollout in one tenant leaves the other serving what it served', async () => {
    const [t1, t2] = sb.tenants as [Tenant, Tenant];
    const other = await sb.servedCert(t2.endpoint);
    const fp = await installBy(sb, t1);
    expect((await sb.servedCert(t1.endpoint)).sha256).toBe(fp);
    expect((await sb.servedCert(t2.endpoint)).sha256).toBe(other.sha256);
  });

  test('stop kills the pods', async () => {
    const pids = (await sb.state()).tenants.map((t: any) => t.pod.pid as number);
    await sb.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('--inline-pods with a custom tenant spec', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ tenant: ['acme/acme-cert/acme-gw'], tenants: 1, inlinePods: true, rolloutDelayMs: 0 });
  });
  afterAll(async () => sb?.stop());

  test('tenants come from --tenants and --tenant NS/SECRET/DEPLOYMENT', () => {
    expect(sb.tenants.map((t) => `${t.namespace}/${t.secret}/${t.deployment}`)).toEqual([
      'tenant-1/xsoar-tls/xsoar-proxy',
      'acme/acme-cert/acme-gw',
    ]);
  });

  test('an in-process pod is replaced by a rollout like a child process', async () => {
    const t = sb.tenants[1]!;
    const before = (await sb.state()).tenants[1].pod;
    expect(before.pid).toBe((await sb.state()).tenants[0].pod.pid);
    const fp = await installBy(sb, t);
    expect((await sb.servedCert(t.endpoint)).sha256).toBe(fp);
    const pods = JSON.parse((await sb.kubectl(['get', 'pods', '-n', t.namespace, '-o', 'json'])).stdout);
    expect(pods.items.map((p: any) => p.metadata.name)).not.toContain(before.name);
    expect(pods.items).toHaveLength(1);
  });
});
