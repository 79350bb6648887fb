// The in-cluster lock: who holds a secret, when a holder is stale, and the release patch.
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { LOCK_ANNOTATION, assertUnlocked, liveHolder, lockValue, newLock, parseLock, releasePatch } from '../../../src/ops/cluster-lock.js';
import type { SecretObject } from '../../../src/k8s/kubectl.js';
import { EXIT } from '../../../src/errors.js';

const secretWith = (value?: string): SecretObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'xsoar-tls', annotations: value === undefined ? {} : { [LOCK_ANNOTATION]: value } }, data: {} });
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
  expect(() => assertUnlocked(s, 'namespace "tenant-1"', now)).toThrow(/being changed by another xsoar-cert install \(admin@10\.0\.0\.9, pid 1 on another-host/);
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
