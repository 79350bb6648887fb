// A single transient fault never needs a human, and a write that lands late is fenced out
// (real kubectl against the sandbox's fault API). Each case ends with what the tool reported
// agreeing with what the secret holds and the endpoint serves.
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let certs: MintedChain[];
let next = 0;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50, progressDeadlineMs: 1500 });
  certs = await Promise.all(
    [0, 1, 2, 3, 4, 5, 6, 7, 8].map(() =>
      mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1', 'xsoar.xsoar.local'] }),
    ),
  );
}, 120000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const install = (m: MintedChain, env: NodeJS.ProcessEnv = {}) =>
  runCli(installArgs(m, [...targetArgs(t()), '--yes', '--timeout', '5', '--allow-name-change']), {
    env: { ...sb.env, ...env },
  });
const servedNow = async () => (await sb.servedCert(t().endpoint)).sha256;
const crtFp = (data: Record<string, string> | undefined) =>
  new X509Certificate(Buffer.from(data!['tls.crt']!, 'base64')).fingerprint256;

describe('one fault on each request of the rollback: still exit 5, the old certificate byte-identical and served', () => {
  const secretPath = () => `/namespaces/${t().namespace}/secrets/${t().secret}$`;
  // The install fails at its rollout (forcing the rollback); the 2nd matching PUT/PATCH is the
  // rollback's, and so is the 1st GET of the secret (the preflight reads it in a namespace list).
  test.each([
    [
      'GET of the secret: 500',
      () => ({ match: { method: 'GET', path: secretPath() }, nth: 1, action: 'status', status: 500 }),
    ],
    ['GET of the secret: dropped', () => ({ match: { method: 'GET', path: secretPath() }, nth: 1, action: 'drop' })],
    [
      'PUT of the secret: 500',
      () => ({ match: { method: 'PUT', path: secretPath() }, nth: 2, action: 'status', status: 500 }),
    ],
    ['PUT of the secret: dropped', () => ({ match: { method: 'PUT', path: secretPath() }, nth: 2, action: 'drop' })],
    [
      'restart PATCH: 500',
      () => ({ match: { method: 'PATCH', path: '/deployments/' }, nth: 2, action: 'status', status: 500 }),
    ],
    ['restart PATCH: dropped', () => ({ match: { method: 'PATCH', path: '/deployments/' }, nth: 2, action: 'drop' })],
  ] as const)('%s', async (_name, fault) => {
    const m = certs[next++]!;
    const beforeData = await sb.secretData(t().namespace, t().secret);
    const beforeServed = await servedNow();
    await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'fail' });
    await sb.fault(fault() as unknown as Parameters<Sandbox['fault']>[0]);
    const r = await install(m);
    await sb.clearFaults();
    expect({ code: r.code, line: r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:')) }).toEqual({
      code: 5,
      line: expect.stringMatching(/rolled back: the previous certificate .* is installed and served again/),
    });
    expect(await sb.secretData(t().namespace, t().secret)).toEqual(
      expect.objectContaining({ 'tls.crt': beforeData!['tls.crt'], 'tls.key': beforeData!['tls.key'] }),
    );
    expect(await servedNow()).toBe(beforeServed);
    // The audit log still verifies, and its last record says what happened.
    const a = await runCli(['audit', '--verify'], { env: sb.env });
    expect(a.code).toBe(0);
  });
});

test('a single 500 on the apply is retried: installed, and served', async () => {
  const m = certs[next++]!;
  await sb.fault({ match: { method: 'PUT', path: '/secrets/' }, action: 'status', status: 500 });
  const r = await install(m);
  await sb.clearFaults();
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(await servedNow()).toBe(fp(m));
  expect(crtFp(await sb.secretData(t().namespace, t().secret))).toBe(fp(m));
});

test('a write that lands after the rollback is fenced out: the secret and the endpoint agree with "rolled back"', async () => {
  const m = certs[next++]!;
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const beforeServed = await servedNow();
  // Every PUT of the forward path is held 9 s by the server while kubectl gives up after 2 s: the
  // install fails and rolls back long before those PUTs reach the store.
  const held = await sb.fault({
    match: { method: 'PUT', path: `/secrets/${t().secret}$` },
    nth: 1,
    times: 3,
    action: 'delay',
    delayMs: 9000,
  });
  const r = await install(m, { XSOAR_CERT_KUBECTL_TIMEOUT: '2' });
  expect({ code: r.code, line: r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:')) }).toEqual({
    code: 5,
    line: expect.stringMatching(/rolled back/),
  });
  // Wait until every held PUT has reached the store (and been refused: its resourceVersion is stale).
  const settled = async () =>
    ((await sb.control('faults')) as { id: string; settled: number }[]).find((f) => f.id === held)?.settled ?? 0;
  for (let i = 0; i < 400 && (await settled()) < 3; i++) await new Promise((res) => setTimeout(res, 100));
  expect(await settled()).toBe(3);
  await sb.clearFaults();
  const data = await sb.secretData(t().namespace, t().secret);
  expect(data!['tls.crt']).toBe(beforeData!['tls.crt']);
  expect(data!['tls.key']).toBe(beforeData!['tls.key']);
  expect(await servedNow()).toBe(beforeServed);
}, 90000);
