// Many clusters in one run (issue 20, item 3): two sandbox clusters, one kubeconfig with a context
// for each, one tenants file naming tenants of the same names in both. Install reaches both; a
// stopped cluster fails its own tenants (exit 8) while the other's are installed and renewed; status
// reads both, with each tenant's context.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain } from '../helpers/test-ca.js';
import { installArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let a: Sandbox;
let b: Sandbox;
let dir: string;
let env: NodeJS.ProcessEnv;
let tenantsFile: string;

/** Two clusters, two contexts, users with empty credentials (the sandbox is plain HTTP). */
function kubeconfig(): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: cluster-a
  cluster: { server: ${a.url} }
- name: cluster-b
  cluster: { server: ${b.url} }
contexts:
- name: site-a
  context: { cluster: cluster-a, user: admin-a }
- name: site-b
  context: { cluster: cluster-b, user: admin-b }
current-context: site-a
users:
- name: admin-a
  user: {}
- name: admin-b
  user: {}
`;
}

beforeAll(async () => {
  [a, b] = await Promise.all([
    startSandbox({ tenants: 2, rolloutDelayMs: 50, inlinePods: true }),
    startSandbox({ tenants: 2, rolloutDelayMs: 50, inlinePods: true }),
  ]);
  dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-clusters-'));
  const kc = path.join(dir, 'kubeconfig');
  writeFileSync(kc, kubeconfig(), { mode: 0o600 });
  env = { ...a.env, KUBECONFIG: kc, XSOAR_CERT_STATE_DIR: path.join(dir, 'state') };
  tenantsFile = path.join(dir, 'tenants.txt');
  const line = (ctx: string, sb: Sandbox) => sb.tenants.map((t) => `${ctx}:${t.namespace}/${t.secret} ${t.endpoint}`);
  writeFileSync(
    tenantsFile,
    ['# context:namespace/secret endpoint', ...line('site-a', a), ...line('site-b', b)].join('\n') + '\n',
  );
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const hosts = ['localhost', '127.0.0.1', 'tenant-1.xsoar.local', 'tenant-2.xsoar.local'];
const served = async (sb: Sandbox) =>
  Promise.all(sb.tenants.map(async (t) => (await sb.servedCert(t.endpoint)).sha256));
type Row = { context: string | null; namespace: string; ok: boolean; exitCode: number; error?: string };
const rows = (stdout: string) =>
  (JSON.parse(stdout).tenants as Row[]).map((x) => `${x.context}:${x.namespace} ${x.ok ? 'ok' : `exit ${x.exitCode}`}`);

test('one tenants file across two clusters: install updates both, status shows both contexts', async () => {
  const m = await mintChain({ hosts });
  const r = await runCli(installArgs(m, ['--tenants-file', tenantsFile, '--yes', '--json']), { env });
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(r.code).toBe(0);
  expect(rows(r.stdout)).toEqual([
    'site-a:tenant-1 ok',
    'site-a:tenant-2 ok',
    'site-b:tenant-1 ok',
    'site-b:tenant-2 ok',
  ]);
  expect([...(await served(a)), ...(await served(b))]).toEqual(Array(4).fill(fp(m)));

  const s = await runCli(['status', '--tenants-file', tenantsFile, '--json'], { env });
  expect(s.code).toBe(0);
  const reports = JSON.parse(s.stdout).tenants as Array<{
    context: string;
    agree: boolean;
    installed: { sha256: string };
  }>;
  expect(reports.map((x) => [x.context, x.agree, x.installed.sha256])).toEqual([
    ['site-a', true, fp(m)],
    ['site-a', true, fp(m)],
    ['site-b', true, fp(m)],
    ['site-b', true, fp(m)],
  ]);
  const table = await runCli(
    ['status', '--context', 'site-a', '--context', 'site-b', '-A', '-l', 'app.kubernetes.io/part-of=xsoar'],
    {
      env,
    },
  );
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^site-a:tenant-1\/xsoar-tls\s+[0-9A-F:]{11}…/m);
  expect(table.stdout).toMatch(/^site-b:tenant-2\/xsoar-tls\s+[0-9A-F:]{11}…/m);
});

test('a stopped cluster fails its own tenants (exit 8); the other cluster is installed and renewed', async () => {
  const before = await served(a);
  await b.stop();
  const m = await mintChain({ hosts });
  const r = await runCli(installArgs(m, ['--tenants-file', tenantsFile, '--yes', '--json']), { env });
  expect(r.code).toBe(8);
  expect(rows(r.stdout)).toEqual([
    'site-a:tenant-1 ok',
    'site-a:tenant-2 ok',
    'site-b:tenant-1 exit 4',
    'site-b:tenant-2 exit 4',
  ]);
  const down = (JSON.parse(r.stdout).tenants as Row[]).filter((x) => !x.ok);
  for (const x of down) expect(x.error).toMatch(/^cannot reach the cluster .*\(context site-b\).*connection refused/);
  const after = await served(a);
  expect(after).toEqual([fp(m), fp(m)]);
  expect(after).not.toEqual(before);

  // renew's fleet path: the same split, the reachable cluster renewed.
  const renew = await runCli(['renew', '--self-signed', '--force', '--tenants-file', tenantsFile], { env });
  expect(renew.code).toBe(8);
  expect(renew.stdout).toMatch(/^site-a:tenant-1\/xsoar-tls\s+ok\s+renewed/m);
  expect(renew.stdout).toMatch(/^site-b:tenant-1\/xsoar-tls\s+FAILED \(exit 4\)/m);
  expect(await served(a)).not.toEqual(after);

  // -A -l in each context: the unreachable one is one failed row; the other's tenants are read.
  const s = await runCli(
    ['status', '--context', 'site-a', '--context', 'site-b', '-A', '-l', 'app.kubernetes.io/part-of=xsoar', '--json'],
    { env },
  );
  expect(s.code).toBe(8);
  const tenants = JSON.parse(s.stdout).tenants as Array<{ context: string; namespace: string; error?: string }>;
  expect(tenants.map((x) => `${x.context}:${x.namespace}${x.error ? ' error' : ''}`)).toEqual([
    'site-b:* error',
    'site-a:tenant-1',
    'site-a:tenant-2',
  ]);

  // The metrics read each tenant in its own cluster, and name it: the stopped one's tenants are not OK.
  const prom = path.join(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-mc-metrics-')), 'fleet.prom');
  await runCli(['status', '--tenants-file', tenantsFile, '--metrics-file', prom], { env });
  const ok = readFileSync(prom, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('xsoar_cert_installed_ok{'));
  expect(ok.sort()).toEqual([
    'xsoar_cert_installed_ok{context="site-a",namespace="tenant-1",secret="xsoar-tls"} 1',
    'xsoar_cert_installed_ok{context="site-a",namespace="tenant-2",secret="xsoar-tls"} 1',
    'xsoar_cert_installed_ok{context="site-b",namespace="tenant-1",secret="xsoar-tls"} 0',
    'xsoar_cert_installed_ok{context="site-b",namespace="tenant-2",secret="xsoar-tls"} 0',
  ]);
});
