// The in-cluster lock: who holds a secret, when a holder is stale, and the release patch.
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import {
  LOCK_ANNOTATION,
  MAX_LOCK_MS,
  assertUnlocked,
  liveHolder,
  lockValue,
  newLock,
  parseLock,
  releasePatch,
} from '../../../src/ops/cluster-lock.js';
import type { SecretObject } from '../../../src/k8s/secrets.js';
import { EXIT } from '../../../src/errors.js';

const secretWith = (value?: string): SecretObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'xsoar-tls', annotations: value === undefined ? {} : { [LOCK_ANNOTATION]: value } },
  data: {},
});
const now = new Date('2026-12-02T12:00:00Z');

test('a lock expires after two rollouts and a margin, and names this process', () => {
  const l = newLock('install', 'viewer@10.0.0.1', 120, now);
  expect(Date.parse(l.expires) - now.getTime()).toBe((2 * 120 + 120) * 1000);
  expect(l).toMatchObject({ op: 'install', by: 'viewer@10.0.0.1', pid: process.pid, host: hostname() });
  expect(l.run).toMatch(/^[0-9a-f]{12}$/);
  expect(newLock('install', 'x', 120, now).run).not.toBe(l.run);
  expect(parseLock(lockValue(l))).toEqual(l);
});

test('held by another host until it expires; then taken over', () => {
  const other = { ...newLock('install', 'admin@10.0.0.9', 60, now), host: 'another-host', pid: 1 };
  const s = secretWith(lockValue(other));
  expect(liveHolder(s, now)?.by).toBe('admin@10.0.0.9');
  expect(() => assertUnlocked(s, 'namespace "tenant-1"', now)).toThrow(
    /being changed by another xsoar-cert install \(admin@10\.0\.0\.9, pid 1 on another-host/,
  );
  try {
    assertUnlocked(s, 'namespace "tenant-1"', now);
  } catch (err) {
    expect((err as { exitCode: number }).exitCode).toBe(EXIT.BUSY);
  }
  expect(liveHolder(s, new Date(Date.parse(other.expires) + 1))).toBeUndefined();
});

test('on this host, a holder whose process is gone is stale at once; a live one holds', () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const gone = { ...newLock('renew', 'cron', 60, now), pid: Number(dead.stdout.toString()) };
  expect(liveHolder(secretWith(lockValue(gone)), now)).toBeUndefined();
  expect(liveHolder(secretWith(lockValue(newLock('renew', 'cron', 60, now))), now)).toBeDefined();
});

test('no lock, or a value that is not a lock, holds nothing', () => {
  expect(liveHolder(secretWith(), now)).toBeUndefined();
  expect(liveHolder(secretWith('garbage{'), now)).toBeUndefined();
  expect(liveHolder(secretWith('{"run":1}'), now)).toBeUndefined();
});

test('the release removes the annotation only while it holds our value (RFC 6902 test + remove)', () => {
  const v = lockValue(newLock('install', 'x', 60, now));
  const ops = JSON.parse(releasePatch(v));
  expect(ops).toEqual([
    { op: 'test', path: '/metadata/annotations/xsoar-cert.io~1lock', value: v },
    { op: 'remove', path: '/metadata/annotations/xsoar-cert.io~1lock' },
  ]);
});

describe('finding 12: the in-cluster lock is honoured at most MAX_LOCK_MS after its since', () => {
  test('an expiry in year 9999 holds only until since + MAX_LOCK_MS', () => {
    const far = {
      ...newLock('install', 'mallory', 60, now),
      host: 'another-host',
      pid: 1,
      expires: '9999-12-31T00:00:00.000Z',
    };
    const s = secretWith(lockValue(far));
    expect(liveHolder(s, new Date(now.getTime() + MAX_LOCK_MS - 1000))).toBeDefined();
    expect(liveHolder(s, new Date(now.getTime() + MAX_LOCK_MS + 1000))).toBeUndefined();
  });
  test('a since far in the future is not a lock anyone holds; a few minutes of clock skew is', () => {
    const ahead = (ms: number) =>
      secretWith(
        lockValue({ ...newLock('install', 'x', 60, new Date(now.getTime() + ms)), host: 'another-host', pid: 1 }),
      );
    expect(liveHolder(ahead(60_000), now)).toBeDefined();
    expect(liveHolder(ahead(3600_000 * 24 * 365 * 7000), now)).toBeUndefined();
  });
  test('the busy message says how to take the lock over by hand', () => {
    const other = { ...newLock('install', 'admin', 60, now), host: 'another-host', pid: 1 };
    const s = {
      ...secretWith(lockValue(other)),
      metadata: { ...secretWith(lockValue(other)).metadata, namespace: 'tenant-1' },
    };
    try {
      assertUnlocked(s, 'namespace "tenant-1"', now);
      throw new Error('not refused');
    } catch (err) {
      expect((err as { hint: string }).hint).toMatch(
        /kubectl annotate secret xsoar-tls -n tenant-1 xsoar-cert\.io\/lock-/,
      );
    }
  });
  test('a lock whose fields are of the wrong type or hold control characters is not honoured', () => {
    const l = newLock('install', 'x', 60, now);
    for (const bad of [
      { ...l, pid: '1' },
      { ...l, by: 'a\nb' },
      { ...l, since: 'yesterday' },
      { ...l, expires: 5 },
    ]) {
      expect(parseLock(JSON.stringify(bad))).toBeUndefined();
    }
  });
});
