// Signals and stale markers (real kubectl, sandbox): SIGTERM before the secret changes is a clean
// "cancelled" (exit 130), and a marker whose pid now belongs to another process does not block.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { BIN } from '../helpers/run-cli.js';

let sb: Sandbox;
let m: MintedChain;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
  m = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
}, 60000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const args = () => installArgs(m, [...targetArgs(t()), '--yes', '--allow-name-change']);

/** Start install; send `sig` once stderr shows `when`; resolve with the exit code and stderr. */
function installAndSignal(sig: NodeJS.Signals, when: RegExp): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args()], {
      env: { ...process.env, ...sb.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let sent = false;
    const send = () => {
      if (!sent) {
        sent = true;
        child.kill(sig);
      }
    };
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (when.test(stderr)) send();
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const rv = async () =>
  (
    await sb.kubectl(['get', 'secret', t().secret, '-n', t().namespace, '-o', 'jsonpath={.metadata.resourceVersion}'])
  ).stdout.trim();

test('SIGTERM before anything changes: exit 130, "cancelled: nothing was changed"', async () => {
  const before = await rv();
  const r = await installAndSignal('SIGTERM', /Verify: /);
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(/SIGTERM: cancelled: nothing was changed/);
  expect(await rv()).toBe(before);
});

test('SIGTERM during the backup step: exit 130 (not 5), the secret untouched and still served', async () => {
  const before = await rv();
  const served = (await sb.servedCert(t().endpoint)).sha256;
  await sb.fault({ match: { method: 'POST', path: '/secrets$' }, action: 'delay', delayMs: 1500 });
  const r = await installAndSignal('SIGTERM', /Backup: /);
  await sb.clearFaults();
  expect({ code: r.code, line: r.stderr.split('\n').find((l) => l.startsWith('xsoar-cert: Cancelled')) }).toEqual({
    code: 130,
    line: expect.stringMatching(/before .* was changed: nothing was changed/),
  });
  expect(await rv()).toBe(before);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(served);
});

test('a marker whose pid now belongs to another live process (another start time) does not block installs', async () => {
  const dir = path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'markers');
  mkdirSync(dir, { recursive: true });
  // This test runner is alive, but it is not the run that wrote the marker: its start time differs.
  writeFileSync(
    path.join(dir, `${t().namespace}__${t().secret}.json`),
    JSON.stringify({
      pid: process.pid,
      pidStart: '1',
      op: 'install',
      namespace: t().namespace,
      secret: t().secret,
      backupName: `${t().secret}-prev-20260101000000-zzzz`,
      newFingerprint: 'AB:'.repeat(31) + 'CD',
      deployments: [t().deployment],
      step: 'backup',
      startedAt: '2026-01-01T00:00:00.000Z',
    }),
  );
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args()], {
      env: { ...process.env, ...sb.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(r.stderr).toMatch(/an earlier install \(pid \d+, started 2026-01-01.*\) was interrupted/);
});
