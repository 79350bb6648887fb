import {
  decideDue,
  parseThreshold,
  pickCandidate,
  DEFAULT_THRESHOLD,
  type Candidate,
} from '../../../src/ops/renew-policy.js';

const d = (s: string) => new Date(s);
const cert90 = { notBefore: d('2026-01-01T00:00:00Z'), notAfter: d('2026-04-01T00:00:00Z') }; // 90 days

describe('decideDue', () => {
  test('default threshold: not due in the first two thirds, due in the last third', () => {
    expect(decideDue(cert90, DEFAULT_THRESHOLD, d('2026-02-28T00:00:00Z')).due).toBe(false); // day 58
    expect(decideDue(cert90, DEFAULT_THRESHOLD, d('2026-03-02T00:00:00Z')).due).toBe(true); // day 60
  });
  test('the boundary is exactly notAfter - lifetime/3', () => {
    const r = decideDue(cert90, DEFAULT_THRESHOLD, d('2026-01-01T00:00:00Z'));
    expect(r.renewAt.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(decideDue(cert90, DEFAULT_THRESHOLD, r.renewAt).due).toBe(true);
    expect(decideDue(cert90, DEFAULT_THRESHOLD, new Date(r.renewAt.getTime() - 1)).due).toBe(false);
  });
  test('--before 30 counts days before notAfter', () => {
    const t = parseThreshold('30');
    expect(decideDue(cert90, t, d('2026-03-01T23:59:59Z')).due).toBe(false);
    expect(decideDue(cert90, t, d('2026-03-02T00:00:00Z')).due).toBe(true);
  });
  test('an expired certificate is always due and says so', () => {
    const r = decideDue(cert90, parseThreshold('1'), d('2026-05-01T00:00:00Z'));
    expect(r.due).toBe(true);
    expect(r.reason).toMatch(/expired/);
  });
});

describe('parseThreshold', () => {
  test('rejects both flags, negative days, and percentages outside (0,100)', () => {
    expect(() => parseThreshold('30', '20')).toThrow(/either/);
    expect(() => parseThreshold('-3')).toThrow(/--before/);
    expect(() => parseThreshold('abc')).toThrow(/--before/);
    expect(() => parseThreshold(undefined, '100')).toThrow(/--before-percent/);
    expect(parseThreshold(undefined, '25%')).toEqual({ kind: 'percent', percent: 25 });
  });
});

describe('pickCandidate', () => {
  const installed = { ...cert90, sha256: 'AA' };
  const cand = (source: string, notAfter: string, extra: Partial<Candidate> = {}): Candidate => ({
    source,
    notBefore: d('2026-03-01T00:00:00Z'),
    notAfter: d(notAfter),
    verified: true,
    sha256: source,
    ...extra,
  });
  test('takes the newest verified candidate that outlives the installed certificate', () => {
    const r = pickCandidate(installed, [
      cand('a', '2026-06-01T00:00:00Z'),
      cand('b', '2026-07-01T00:00:00Z'),
      cand('c', '2026-08-01T00:00:00Z', { verified: false, problem: 'key does not match' }),
    ]);
    expect(r.ok && r.candidate.source).toBe('b');
    expect(r.skipped).toEqual([{ source: 'c', why: 'fails verify: key does not match' }]);
  });
  test('refuses an older certificate and the installed one itself', () => {
    const r = pickCandidate(installed, [
      cand('old', '2026-03-15T00:00:00Z'),
      { ...cand('same', '2026-04-01T00:00:00Z'), sha256: 'AA' },
    ]);
    expect(r.ok).toBe(false);
    expect(r.skipped.map((s) => s.source)).toEqual(['old', 'same']);
    expect(r.skipped[0]!.why).toMatch(/not newer/);
    expect(r.skipped[1]!.why).toMatch(/already installed/);
  });
  test('an empty folder says so', () => {
    const r = pickCandidate(installed, []);
    expect(!r.ok && r.why).toMatch(/no certificate found/);
  });
});
