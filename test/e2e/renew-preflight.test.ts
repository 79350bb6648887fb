// Issue 18, item 1: renew --acme runs the whole read-only preflight before the CA is asked for
// anything. A broken proxy, a missing permission, a wrong endpoint and a non-TLS secret each end
// the run with install's exit code and message, and the CA (test/helpers/hostile-acme.ts in its
// honest mode, which records every request) sees no order. A dry run orders nothing either.
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { startHostileAcme, type HostileAcme } from '../helpers/hostile-acme.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';

let sb: Sandbox;
let ca: HostileAcme;
let m: MintedChain;
beforeAll(async () => {
  [sb, ca, m] = await Promise.all([
    startSandbox({
      tenant: ['t1/xsoar-tls/xsoar-proxy', 't1/other-tls/other-proxy'],
      rolloutDelayMs: 20,
      inlinePods: true,
    }),
    startHostileAcme(),
    mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] }),
  ]);
}, 60000);
afterAll(async () => Promise.all([sb?.stop(), ca?.stop()]));

const t1 = () => sb.tenants.find((t) => t.secret === 'xsoar-tls')!;
const orders = () => ca.seen.filter((s) => s.method === 'POST' && /order/.test(s.path)).length;
const line = (r: CliResult) => r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert:')) ?? '';
const rv = async (name: string) =>
  (await sb.kubectl(['get', 'secret', name, '-n', 't1', '-o', 'jsonpath={.metadata.resourceVersion}'])).stdout.trim();

function renew(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
  const args = ['renew', '--acme', ca.directory, '--acme-ca', ca.tlsCa, '--acme-agree-tos', '-n', 't1'];
  const rest = ['--force', '--allow-name-change', '--host', 'localhost', '--http-port', '1', ...extra];
  return runCli([...args, ...rest], { env: { ...sb.env, XSOAR_CERT_STATE_DIR: state, ...env } });
}
function install(extra: string[]): Promise<CliResult> {
  const files = ['--cert', m.files.leaf, '--chain', m.files.chain, '--key', m.files.key, '--ca', m.files.root];
  return runCli(['install', ...files, '--host', 'localhost', '-n', 't1', '--yes', '--allow-name-change', ...extra], {
    env: sb.env,
  });
}
async function closedPort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });
}

interface Case {
  what: string;
  args: () => Promise<string[]>;
  setup?: () => Promise<void>;
}
const CASES: Case[] = [
  { what: 'a proxy that does not exist', args: async () => ['--proxy', 'deployment/no-such-proxy'] },
  { what: 'a proxy that does not mount the secret', args: async () => ['--proxy', 'deployment/other-proxy'] },
  { what: 'an endpoint that does not answer TLS', args: async () => ['--endpoint', `127.0.0.1:${await closedPort()}`] },
  {
    what: 'an endpoint that serves another certificate',
    args: async () => ['--endpoint', sb.tenants.find((t) => t.secret === 'other-tls')!.endpoint],
    // The other tenant first gets a certificate of its own, so its endpoint serves something else.
    setup: async () => {
      const r = await install(['--secret', 'other-tls', '--proxy', 'deployment/other-proxy', '--no-confirm']);
      expect(r.code).toBe(0);
    },
  },
  {
    what: 'a secret that is not a TLS secret',
    args: async () => ['--secret', 'regcred', '--proxy', 'deployment/xsoar-proxy'],
  },
  {
    what: 'a missing permission (update secrets)',
    args: async () => [],
    setup: () => sb.setAuthz({ deny: [{ verb: 'update', resource: 'secrets', namespace: 't1' }] }),
  },
];

beforeAll(async () => {
  const docker = [
    'create',
    'secret',
    'docker-registry',
    'regcred',
    '-n',
    't1',
    '--docker-server=r',
    '--docker-username=u',
  ];
  expect((await sb.kubectl([...docker, '--docker-password=p'])).code).toBe(0);
});

test.each(CASES)(
  '$what: the same exit code and message as install, and no order at the CA',
  async ({ args, setup }) => {
    await setup?.();
    try {
      const extra = await args();
      const secret = extra.includes('--secret') ? 'regcred' : 'xsoar-tls';
      const before = await rv(secret);
      ca.reset('ok');
      const r = await renew(extra);
      const i = await install(extra);
      expect({ code: r.code, line: line(r) }).toEqual({ code: i.code, line: line(i) });
      expect(r.code).not.toBe(0);
      expect(orders()).toBe(0);
      expect(await rv(secret)).toBe(before);
    } finally {
      await sb.setAuthz({ reset: true });
    }
  },
);

test('renew --acme --dry-run says what would be ordered and orders nothing', async () => {
  ca.reset('ok');
  const r = await renew(['--endpoint', t1().endpoint, '--dry-run', '--json']);
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const j = JSON.parse(r.stdout);
  expect(JSON.stringify(j)).toMatch(/an order at ACME 127\.0\.0\.1:\d+/);
  expect(orders()).toBe(0);
});

describe('issue 18, items 2 and 3: every attempt on record, and a backoff that respects the CA', () => {
  const ok = (r: CliResult) => ({ code: r.code, err: r.code ? r.stderr : '' });
  test('a failed attempt starts a backoff: the next run within it does not contact the CA; --force does; a success resets it', async () => {
    const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
    const env = { XSOAR_CERT_STATE_DIR: state };
    const acme = [
      'renew',
      '--acme',
      ca.directory,
      '--acme-ca',
      ca.tlsCa,
      '--acme-agree-tos',
      '-n',
      't1',
      '--secret',
      'xsoar-tls',
    ];
    const run = (extra: string[]) =>
      runCli([...acme, '--allow-name-change', '--host', 'localhost', '--http-port', '1', ...extra], {
        env: { ...sb.env, ...env },
      });
    ca.reset('ok');
    const first = await run(['--force']);
    expect(first.code).toBe(9); // this CA validates nothing
    expect(ca.seen.length).toBeGreaterThan(0);
    ca.reset('ok');
    const second = await run([]);
    expect(ok(second)).toEqual({ code: 0, err: '' });
    expect(second.stderr + second.stdout).toMatch(
      /renewal failing since \S+, 1 attempt\(s\) \(last: exit 9, .*next attempt after (\S+) \(--force to try now\)/,
    );
    expect(ca.seen).toEqual([]); // not one request at the CA
    const third = await run(['--force']);
    expect(third.code).toBe(9);
    expect(ca.seen.length).toBeGreaterThan(0);
    // The audit log has both attempts, with the exit code and the CA's reason.
    const failed = JSON.parse(
      (await runCli(['audit', '--failed', '--json', '-n', 't1'], { env: { ...sb.env, ...env } })).stdout,
    );
    expect(failed.map((r: { result: string; exitCode: number }) => `${r.result}:${r.exitCode}`)).toEqual([
      'refused:9',
      'refused:9',
    ]);
    expect(failed[0].error).toMatch(/the CA refused a challenge/);
    // status says so too.
    const st = await runCli(['status', '-n', 't1', '--secret', 'xsoar-tls'], { env: { ...sb.env, ...env } });
    expect(st.stdout).toMatch(
      /renewal {4}FAILING since \S+, 2 attempt\(s\), last error \(exit 9\): the CA refused a challenge.*; next attempt after \S+/,
    );
    // A success (here from another source) resets the backoff: the next cron run decides normally again.
    const fine = await runCli(
      ['renew', '--self-signed', '--force', '-n', 't1', '--secret', 'xsoar-tls', '--allow-name-change'],
      {
        env: { ...sb.env, ...env },
      },
    );
    expect(ok(fine)).toEqual({ code: 0, err: '' });
    const reset = JSON.parse(readFileSync(path.join(state, 'renewals', 't1__xsoar-tls.json'), 'utf8'));
    expect(reset).toMatchObject({ failures: 0, lastAttempt: { result: 'renewed', exitCode: 0 } });
    expect(reset.nextAttempt).toBeUndefined();
    ca.reset('ok');
    const after = await run([]);
    expect(after.stdout + after.stderr).not.toMatch(/renewal failing/);
    expect(ca.seen.length).toBeGreaterThan(0); // no backoff: it asked the CA (its renewal window) again
    const kept = JSON.parse(readFileSync(path.join(state, 'renewals', 't1__xsoar-tls.json'), 'utf8'));
    expect(kept.lastSuccess).toBeDefined();
  }, 60000);
});

test('status --endpoint that is not HOST:PORT is a usage error (exit 2)', async () => {
  const r = await runCli(['status', '-n', 't1', '--endpoint', 'not-a-port'], { env: sb.env });
  expect({ code: r.code, line: line(r) }).toEqual({
    code: 2,
    line: expect.stringMatching(/--endpoint "not-a-port": expected HOST:PORT/),
  });
});
