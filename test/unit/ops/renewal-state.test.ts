// The per-tenant renewal record and its backoff (issue 18, item 3); planRenewal's window rule.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  afterAttempt,
  allRenewalStates,
  backoffMs,
  readRenewalState,
  writeRenewalState,
} from '../../../src/ops/renewal-state.js';
import { planRenewal } from '../../../src/ops/renew-policy.js';

const H = 3600_000;
const saved = process.env.XSOAR_CERT_STATE_DIR;
beforeEach(() => (process.env.XSOAR_CERT_STATE_DIR = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'))));
afterAll(() => (process.env.XSOAR_CERT_STATE_DIR = saved));

test('backoff: 1 h, doubling, at most 24 h; a Retry-After sets it directly (bounded to 24 h)', () => {
  expect([1, 2, 3, 4, 5, 6, 9].map((n) => backoffMs(n) / H)).toEqual([1, 2, 4, 8, 16, 24, 24]);
  expect(backoffMs(1, 90_000)).toBe(90_000);
  expect(backoffMs(3, 100 * H)).toBe(24 * H);
});

test('a failure counts and sets the next attempt; a success resets both', () => {
  const s0 = { namespace: 'ns', secret: 's', failures: 0 };
  const s1 = afterAttempt(s0, { at: '2026-12-01T00:00:00.000Z', result: 'ca-refused', exitCode: 9 });
  expect(s1).toMatchObject({
    failures: 1,
    failingSince: '2026-12-01T00:00:00.000Z',
    nextAttempt: '2026-12-01T01:00:00.000Z',
  });
  const s2 = afterAttempt(s1, { at: '2026-12-01T02:00:00.000Z', result: 'ca-refused', exitCode: 9 }, 30 * 60_000);
  expect(s2).toMatchObject({
    failures: 2,
    failingSince: '2026-12-01T00:00:00.000Z',
    nextAttempt: '2026-12-01T02:30:00.000Z',
  });
  const ok = afterAttempt(s2, { at: '2026-12-01T03:00:00.000Z', result: 'renewed', exitCode: 0 });
  expect(ok).toMatchObject({ failures: 0, lastSuccess: '2026-12-01T03:00:00.000Z' });
  expect(ok.nextAttempt).toBeUndefined();
  expect(ok.failingSince).toBeUndefined();
});

test('kept 0600 per tenant, listed for a fleet; a damaged or foreign record is refused (exit 3)', () => {
  writeRenewalState({ namespace: 'tenant-1', secret: 'xsoar-tls', failures: 2, lastCheck: '2026-12-01T00:00:00.000Z' });
  writeRenewalState({ namespace: 'tenant-2', secret: 'a.b', failures: 0 });
  expect(readRenewalState('tenant-1', 'xsoar-tls').failures).toBe(2);
  expect(readRenewalState('tenant-3', 'xsoar-tls')).toEqual({
    namespace: 'tenant-3',
    secret: 'xsoar-tls',
    failures: 0,
  });
  expect(
    allRenewalStates()
      .map((s) => `${s.namespace}/${s.secret}`)
      .sort(),
  ).toEqual(['tenant-1/xsoar-tls', 'tenant-2/a.b']);
  const dir = path.join(process.env.XSOAR_CERT_STATE_DIR!, 'renewals');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'tenant-4__x.json'), JSON.stringify({ namespace: 'other', secret: 'x', failures: 0 }), {
    mode: 0o600,
  });
  expect(() => readRenewalState('tenant-4', 'x')).toThrow(
    /tenant-4__x\.json: the renewal state of tenant-4\/x is damaged/,
  );
  writeFileSync(
    path.join(dir, 'tenant-5__x.json'),
    JSON.stringify({ namespace: 'tenant-5', secret: 'x', failures: -1 }),
    { mode: 0o600 },
  );
  expect(() => readRenewalState('tenant-5', 'x')).toThrow(/damaged/);
});

test('planRenewal: the threshold decides, unless a CA window does; --force renews either way', () => {
  const life = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };
  const threshold = { kind: 'days' as const, days: 30 };
  expect(planRenewal(life, { threshold, now: new Date('2026-06-01T00:00:00Z') }).due).toBe(false);
  expect(planRenewal(life, { threshold, now: new Date('2026-12-15T00:00:00Z') }).due).toBe(true);
  const windowStart = new Date('2026-05-01T00:00:00Z');
  const early = planRenewal(life, { threshold, now: new Date('2026-06-01T00:00:00Z'), windowStart });
  expect(early).toMatchObject({ due: true, reason: expect.stringMatching(/inside the CA's renewal window/) });
  const late = planRenewal(life, {
    threshold,
    now: new Date('2026-12-15T00:00:00Z'),
    windowStart: new Date('2026-12-20T00:00:00Z'),
  });
  expect(late.due).toBe(false);
  expect(planRenewal(life, { threshold, now: new Date('2026-06-01T00:00:00Z'), force: true }).due).toBe(true);
});

test('short-lived certificates (under 10 days) renew at half their lifetime by default; an explicit threshold stays', async () => {
  const { DEFAULT_THRESHOLD } = await import('../../../src/ops/renew-policy.js');
  const six = { notBefore: new Date('2026-12-01T00:00:00Z'), notAfter: new Date('2026-12-07T00:00:00Z') };
  // Day 3.5 of 6: past half, not yet in the last third.
  const now = new Date('2026-12-04T12:00:00Z');
  expect(planRenewal(six, { threshold: DEFAULT_THRESHOLD, now })).toMatchObject({
    due: true,
    renewAt: new Date('2026-12-04T00:00:00Z'),
  });
  expect(planRenewal(six, { threshold: { kind: 'percent', percent: 100 / 3 }, now }).due).toBe(false);
  const year = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };
  expect(planRenewal(year, { threshold: DEFAULT_THRESHOLD, now: new Date('2026-07-03T00:00:00Z') }).due).toBe(false);
});
