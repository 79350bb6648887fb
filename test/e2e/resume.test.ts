// What the next run finishes after a kill (real kubectl, sandbox). The states a SIGKILL leaves are
// made directly (marker + cluster state), since a kill cannot be timed to the millisecond:
// - killed during the tool's own rollback, after the restore and before the restart: the secret
//   holds the old certificate but the proxy still serves the failed one;
// - killed after the live confirmation, before the audit record.
// And the audit log under 8 processes appending at once.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { ROOT, runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let a: MintedChain;
beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
  a = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
}, 60000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const target = () => targetArgs(t());
const markerFile = () => path.join(sb.env.XSOAR_CERT_STATE_DIR!, 'markers', `${t().namespace}__${t().secret}.json`);
const writeMarker = (m: object) => {
  mkdirSync(path.dirname(markerFile()), { recursive: true });
  // pid 999999 is no running process: the run that wrote this marker is gone.
  writeFileSync(
    markerFile(),
    JSON.stringify({
      pid: 999999,
      op: 'install',
      namespace: t().namespace,
      secret: t().secret,
      deployments: [t().deployment],
      startedAt: '2026-01-01T00:00:00.000Z',
      ...m,
    }),
  );
};

test('killed during its own rollback (restored, not yet restarted): the next run restarts and confirms the old certificate', async () => {
  const original = (await sb.servedCert(t().endpoint)).sha256;
  const before = await sb.secretData(t().namespace, t().secret);
  const r = await runCli(installArgs(a, [...target(), '--yes', '--allow-name-change']), { env: sb.env });
  expect(r.code).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(a));
  // The rollback's restore landed (the secret holds the original again) but the kill came before its restart.
  const backups = JSON.parse(
    (
      await sb.kubectl([
        'get',
        'secrets',
        '-n',
        t().namespace,
        '-l',
        `xsoar-cert.io/previous-of=${t().secret}`,
        '-o',
        'json',
      ])
    ).stdout,
  ).items as { metadata: { name: string; annotations: Record<string, string> } }[];
  const backup = backups.find((b) => b.metadata.annotations['xsoar-cert.io/fingerprint'] === original)!;
  const live = JSON.parse((await sb.kubectl(['get', 'secret', t().secret, '-n', t().namespace, '-o', 'json'])).stdout);
  live.data = before;
  expect((await sb.kubectl(['replace', '-f', '-'], JSON.stringify(live))).code).toBe(0);
  writeMarker({ backupName: backup.metadata.name, oldFingerprint: original, newFingerprint: fp(a), step: 'rollback' });
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(a)); // the failed certificate is still served
  // The next run (status, here) finishes the rollback: restart, confirm.
  const st = await runCli(['status', ...target()], { env: sb.env });
  expect(st.stderr).toMatch(/an earlier install .* was interrupted at step "rollback"; resolving it/);
  expect(st.stderr).toMatch(/resolved: rolled back/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(original);
  expect(st.code).toBe(0);
});

test('killed after the live confirmation, before the audit record: the next run writes the record, and keeps the change', async () => {
  const b = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'] });
  const r = await runCli(installArgs(b, [...target(), '--yes', '--allow-name-change']), { env: sb.env });
  expect(r.code).toBe(0);
  const auditBefore = JSON.parse((await runCli(['audit', '--json'], { env: sb.env })).stdout).length as number;
  writeMarker({
    backupName: `${t().secret}-prev-20260101000000-abcd`,
    oldFingerprint: fp(a),
    newFingerprint: fp(b),
    step: 'confirmed',
  });
  const st = await runCli(['status', ...target()], { env: sb.env });
  expect(st.stderr).toMatch(/had completed and was confirmed live; its audit record is written now/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(b)); // not rolled back
  const records = JSON.parse((await runCli(['audit', '--json'], { env: sb.env })).stdout) as {
    result: string;
    newFingerprint: string;
    error?: string;
  }[];
  expect(records).toHaveLength(auditBefore + 1);
  expect(records[records.length - 1]).toMatchObject({
    result: 'installed',
    newFingerprint: fp(b),
    error: expect.stringMatching(/recorded by the next run/),
  });
  expect((await runCli(['audit', '--verify'], { env: sb.env })).code).toBe(0);
});

test('8 processes appending to the audit log at once: every record is there and the chain verifies', async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-audit-'));
  const script = `import(${JSON.stringify(path.join(ROOT, 'dist', 'audit', 'log.js'))}).then((m) => { for (let i = 0; i < 25; i++) m.appendAudit({ op: 'install', namespace: 'ns' + process.argv[1], secret: 's', result: 'installed', durationMs: i }); });`;
  const codes = await Promise.all(
    [0, 1, 2, 3, 4, 5, 6, 7].map(
      (i) =>
        new Promise<number | null>((res) =>
          spawn(process.execPath, ['-e', script, String(i)], {
            env: { ...process.env, XSOAR_CERT_STATE_DIR: state },
            stdio: 'inherit',
          }).on('close', res),
        ),
    ),
  );
  expect(codes).toEqual(Array(8).fill(0));
  const v = await runCli(['audit', '--verify', '--local-only', '--json'], { env: { XSOAR_CERT_STATE_DIR: state } });
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, records: 200 });
});
