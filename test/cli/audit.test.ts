// audit filters: by namespace, operation, time and failure, in the CLI and as a pure function.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendAudit, parseSince, type AuditRecord } from '../../src/audit/log.js';
import { runCli } from '../helpers/run-cli.js';

const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-audit-'));
const env = { XSOAR_CERT_STATE_DIR: state };
beforeAll(() => {
  const saved = process.env.XSOAR_CERT_STATE_DIR;
  process.env.XSOAR_CERT_STATE_DIR = state;
  appendAudit({
    op: 'install',
    namespace: 'tenant-1',
    secret: 'xsoar-tls',
    result: 'installed',
    durationMs: 700,
    newFingerprint: 'AA:11',
  });
  appendAudit({
    op: 'install',
    namespace: 'tenant-2',
    secret: 'xsoar-tls',
    result: 'rolled-back',
    error: 'the rollout did not finish',
    durationMs: 900,
  });
  appendAudit({ op: 'renew', namespace: 'tenant-1', secret: 'xsoar-tls', result: 'installed', durationMs: 650 });
  appendAudit({
    op: 'rollback',
    namespace: 'tenant-3',
    secret: 'xsoar-tls',
    result: 'rollback-failed',
    error: 'cannot reach the cluster',
    durationMs: 100,
  });
  process.env.XSOAR_CERT_STATE_DIR = saved;
});
const list = async (args: string[]) =>
  JSON.parse((await runCli(['audit', '--json', ...args], { env })).stdout) as AuditRecord[];
const who = (rs: AuditRecord[]) => rs.map((r) => `${r.op}:${r.namespace}`);

test('-n (repeatable), --op and --failed select records; --limit applies after them', async () => {
  expect(who(await list(['-n', 'tenant-1']))).toEqual(['install:tenant-1', 'renew:tenant-1']);
  expect(who(await list(['-n', 'tenant-2', '-n', 'tenant-3']))).toEqual(['install:tenant-2', 'rollback:tenant-3']);
  expect(who(await list(['--op', 'renew']))).toEqual(['renew:tenant-1']);
  expect(who(await list(['--failed']))).toEqual(['install:tenant-2', 'rollback:tenant-3']);
  expect(who(await list(['--failed', '--limit', '1']))).toEqual(['rollback:tenant-3']);
  expect(who(await list(['--since', '1h']))).toHaveLength(4);
  expect(await list(['--since', '2099-01-01'])).toEqual([]);
});

test('the filters leave the log itself alone: --verify still sees every record', async () => {
  const r = await runCli(['audit', '--verify', '--local-only'], { env });
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/4 record\(s\), hash chain intact/);
});

test('a filter that matches nothing says so; bad values are usage errors (exit 2)', async () => {
  const none = await runCli(['audit', '-n', 'nobody'], { env });
  expect(none.code).toBe(0);
  expect(none.stdout).toMatch(/no record in .* matches/);
  for (const [flag, value, msg] of [
    ['--op', 'delete', /--op takes install, rollback, renew, resolve/],
    ['--since', 'yesterday', /--since takes 7d, 12h, 30m or an ISO date/],
  ] as const) {
    const r = await runCli(['audit', flag, value], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  }
});

test('parseSince: relative days, hours and minutes, ISO dates, and nonsense', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  expect(parseSince('7d', now)!.toISOString()).toBe('2026-11-22T12:00:00.000Z');
  expect(parseSince('12h', now)!.toISOString()).toBe('2026-11-29T00:00:00.000Z');
  expect(parseSince('30m', now)!.toISOString()).toBe('2026-11-29T11:30:00.000Z');
  expect(parseSince('2026-11-01', now)!.toISOString()).toBe('2026-11-01T00:00:00.000Z');
  expect(parseSince('soon', now)).toBeUndefined();
});

test('an audit log that cannot be read is an input error naming it (exit 3), not an empty log', async () => {
  const { mkdirSync } = await import('node:fs');
  const locked = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-audit-locked-'));
  mkdirSync(path.join(locked, 'audit.jsonl')); // a folder where the file should be: EISDIR, even for root
  const r = await runCli(['audit'], { env: { XSOAR_CERT_STATE_DIR: locked } });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/audit\.jsonl: cannot read the audit log \(EISDIR\)/);
});
