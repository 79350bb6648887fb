// check's decisions (issue 18, item 5): each tenant's state from its facts, the worst of a fleet,
// the one line and its perfdata (monitoring-plugins guidelines).
import {
  CHECK_STATE,
  DEFAULT_THRESHOLDS,
  checkOutcome,
  perfdata,
  pluginLine,
  tenantVerdict,
  worse,
  type TenantVerdict,
} from '../../../src/ops/health-verdict.js';
import { parseDays, parseThresholds } from '../../../src/ops/check.js';
import type { TenantHealth } from '../../../src/ops/health.js';
import { UsageError } from '../../../src/errors.js';

const NOW = new Date('2027-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const inDays = (d: number) => new Date(NOW.getTime() + d * DAY).toISOString();
const FP = 'AA:BB:CC:DD:EE:FF:00:11:22:33';

function health(days: number, extra: Partial<TenantHealth> = {}): TenantHealth {
  return {
    namespace: 'tenant-1',
    secret: 'xsoar-tls',
    installed: { notAfter: inDays(days), fingerprint: FP },
    state: { namespace: 'tenant-1', secret: 'xsoar-tls', failures: 0 },
    ...extra,
  };
}
const verdict = (h: TenantHealth, th = DEFAULT_THRESHOLDS) => tenantVerdict(h, th, NOW);

test('expiry against the thresholds: fewer than --warning days WARNING, fewer than --critical CRITICAL, expired CRITICAL', () => {
  expect(verdict(health(300))).toMatchObject({ state: CHECK_STATE.OK, daysLeft: 300, reasons: [] });
  expect(verdict(health(21)).state).toBe(CHECK_STATE.OK); // 21 days left is not fewer than 21
  expect(verdict(health(20.9))).toMatchObject({ state: CHECK_STATE.WARNING, daysLeft: 20 });
  expect(verdict(health(20.9)).reasons).toEqual(['expires in 20 days (2027-01-21)']);
  expect(verdict(health(7)).state).toBe(CHECK_STATE.WARNING);
  expect(verdict(health(6.5))).toMatchObject({
    state: CHECK_STATE.CRITICAL,
    reasons: ['expires in 6 days (2027-01-07)'],
  });
  expect(verdict(health(0.5)).reasons).toEqual(['expires in 0 days (2027-01-01)']);
  expect(verdict(health(-1))).toMatchObject({ state: CHECK_STATE.CRITICAL, reasons: ['expired 2026-12-31 00:00Z'] });
  // --critical 0: an expired certificate is still CRITICAL.
  expect(verdict(health(-0.01), { warningDays: 0, criticalDays: 0 }).state).toBe(CHECK_STATE.CRITICAL);
  expect(verdict(health(364), { warningDays: 400, criticalDays: 7 }).state).toBe(CHECK_STATE.WARNING);
  expect(verdict(health(364), { warningDays: 400, criticalDays: 400 }).state).toBe(CHECK_STATE.CRITICAL);
});

test('the endpoint: another certificate or no TLS answer is CRITICAL; the same one changes nothing', () => {
  const served = (s: TenantHealth['served']) => verdict(health(300, { endpoint: '127.0.0.1:8443', served: s }));
  expect(served({ fingerprint: FP, matches: true }).state).toBe(CHECK_STATE.OK);
  const other = served({ fingerprint: '11:22:33:44:55:66', matches: false });
  expect(other.state).toBe(CHECK_STATE.CRITICAL);
  expect(other.reasons[0]).toBe('127.0.0.1:8443 serves 11:22:33:44…, not the installed certificate AA:BB:CC:DD…');
  const down = served({ error: '127.0.0.1:8443: connect ECONNREFUSED 127.0.0.1:8443' });
  expect(down).toMatchObject({
    state: CHECK_STATE.CRITICAL,
    reasons: ['endpoint 127.0.0.1:8443: connect ECONNREFUSED 127.0.0.1:8443'],
  });
});

test('a failing renewal raises OK to WARNING with since, attempts and the last error; it never lowers CRITICAL', () => {
  const failing = {
    namespace: 'tenant-1',
    secret: 'xsoar-tls',
    failures: 3,
    failingSince: '2026-12-30T10:15:00.000Z',
    lastAttempt: { at: '2026-12-31T22:00:00.000Z', result: 'ca-refused', exitCode: 9, error: 'the CA said no' },
  };
  const v = verdict(health(300, { state: failing }));
  expect(v.state).toBe(CHECK_STATE.WARNING);
  expect(v.reasons).toEqual(['renewal failing since 2026-12-30 10:15Z, 3 attempts, last error: the CA said no']);
  const noError = { ...failing, failures: 1, lastAttempt: { ...failing.lastAttempt, error: undefined } };
  expect(verdict(health(300, { state: noError })).reasons[0]).toMatch(/1 attempt, last error: ca-refused \(exit 9\)$/);
  const critical = verdict(health(2, { state: failing }));
  expect(critical.state).toBe(CHECK_STATE.CRITICAL);
  expect(critical.reasons).toHaveLength(2);
  // A damaged renewal state is a WARNING (the certificate's own state still counts).
  expect(verdict(health(300, { state: undefined, stateError: 'x.json: damaged' })).state).toBe(CHECK_STATE.WARNING);
});

test('a tenant that could not be read is UNKNOWN, with why', () => {
  const v = verdict({ namespace: 'nope', secret: 'xsoar-tls', problem: 'secret nope/xsoar-tls not found' });
  expect(v).toEqual({
    tenant: 'nope/xsoar-tls',
    state: CHECK_STATE.UNKNOWN,
    reasons: ['secret nope/xsoar-tls not found'],
  });
});

test('worst wins in the order OK < WARNING < UNKNOWN < CRITICAL', () => {
  const { OK, WARNING, CRITICAL, UNKNOWN } = CHECK_STATE;
  expect(worse(OK, WARNING)).toBe(WARNING);
  expect(worse(WARNING, UNKNOWN)).toBe(UNKNOWN);
  expect(worse(UNKNOWN, CRITICAL)).toBe(CRITICAL);
  expect(worse(CRITICAL, UNKNOWN)).toBe(CRITICAL);
  expect(worse(UNKNOWN, OK)).toBe(UNKNOWN);
});

const LINE = /^(OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^|\n]+)?$/;

test('perfdata: days_left is the fewest, one quoted label per tenant read, thresholds as ranges', () => {
  const vs: TenantVerdict[] = [
    { tenant: 'a/xsoar-tls', state: 0, daysLeft: 300, reasons: [] },
    { tenant: 'b/xsoar-tls', state: 1, daysLeft: 12, reasons: [] },
    { tenant: 'c/xsoar-tls', state: 3, reasons: ['unread'] },
  ];
  expect(perfdata(vs, { warningDays: 21, criticalDays: 7 })).toBe(
    "days_left=12;21:;7: 'a/xsoar-tls'=300d;21:;7: 'b/xsoar-tls'=12d;21:;7:",
  );
  expect(perfdata([vs[2]!], DEFAULT_THRESHOLDS)).toBe('');
  expect(perfdata([{ tenant: "it's=x", state: 0, daysLeft: 1, reasons: [] }], DEFAULT_THRESHOLDS)).toBe(
    "days_left=1;21:;7: 'it''s_x'=1d;21:;7:",
  );
});

test('the line: OK names the soonest; otherwise the worst tenants with their reasons and the counts', () => {
  const one = checkOutcome([verdict(health(300))], DEFAULT_THRESHOLDS);
  expect(pluginLine(one)).toBe(
    'OK - tenant-1/xsoar-tls expires 2027-10-28 (300 days left) | ' +
      "days_left=300;21:;7: 'tenant-1/xsoar-tls'=300d;21:;7:",
  );
  const h = (ns: string, days: number, extra: Partial<TenantHealth> = {}) =>
    verdict(health(days, { namespace: ns, ...extra }));
  const ok = checkOutcome([h('t1', 300), h('t2', 200)], DEFAULT_THRESHOLDS);
  expect(ok.summary).toBe('2 tenants OK; the soonest, t2/xsoar-tls, expires 2027-07-20 (200 days left)');
  const mixed = checkOutcome(
    [
      h('t1', 300),
      h('t2', 10),
      h('t3', 3),
      { tenant: 't4/xsoar-tls', state: 3, reasons: ['secret t4/xsoar-tls not found'] },
    ],
    DEFAULT_THRESHOLDS,
  );
  expect(mixed.state).toBe(CHECK_STATE.CRITICAL);
  expect(pluginLine(mixed)).toMatch(LINE);
  expect(mixed.summary).toBe(
    't3/xsoar-tls: expires in 3 days (2027-01-04) (4 tenants: 1 CRITICAL, 1 UNKNOWN, 1 WARNING, 1 OK)',
  );
  const unknown = checkOutcome(
    [h('t1', 300), { tenant: 'x/s', state: 3, reasons: ['no | pipes\nor newlines'] }],
    DEFAULT_THRESHOLDS,
  );
  expect(pluginLine(unknown)).toMatch(LINE);
  expect(unknown.summary).toBe('x/s: no / pipes\\nor newlines (2 tenants: 1 UNKNOWN, 1 OK)');
  const many = checkOutcome(
    Array.from({ length: 8 }, (_, i) => h(`t${i}`, 1)),
    DEFAULT_THRESHOLDS,
  );
  expect(many.summary).toMatch(/^t0\/xsoar-tls: .*; t4\/xsoar-tls: [^;]*; and 3 more \(8 tenants: 8 CRITICAL\)$/);
  expect(checkOutcome([], DEFAULT_THRESHOLDS)).toEqual({ state: 3, summary: 'no tenant to check', perfdata: '' });
});

test('--warning and --critical: whole days, else a usage error', () => {
  expect(parseThresholds({})).toEqual({ warningDays: 21, criticalDays: 7 });
  expect(parseThresholds({ warning: '400', critical: '0' })).toEqual({ warningDays: 400, criticalDays: 0 });
  for (const bad of ['-1', '1.5', 'x', '', '99999', '1e3'])
    expect(() => parseDays(bad, '--warning', 21)).toThrow(UsageError);
});
