// The metrics file (issue 18, item 5): the exposition text, its escaping, and the atomic write.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  escapeHelp,
  escapeLabelValue,
  renderFamilies,
  renderMetrics,
  writeMetricsFile,
} from '../../../src/ops/metrics.js';
import type { TenantHealth } from '../../../src/ops/health.js';
import { InputError } from '../../../src/errors.js';

const promtool = ['/usr/bin/promtool', 'promtool'].find((p) => {
  try {
    execFileSync(p, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

test('label values: backslash, double quote and line feed escaped; HELP: backslash and line feed', () => {
  expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  expect(escapeLabelValue('plain-name.x')).toBe('plain-name.x');
  expect(escapeHelp('a\\b "q"\nc')).toBe('a\\\\b "q"\\nc');
});

const healths: TenantHealth[] = [
  {
    namespace: 'tenant-1',
    secret: 'xsoar-tls',
    endpoint: '127.0.0.1:1',
    installed: { notAfter: '2027-11-29T08:07:43.000Z', fingerprint: 'AA' },
    state: {
      namespace: 'tenant-1',
      secret: 'xsoar-tls',
      failures: 2,
      lastAttempt: { at: '2026-12-01T10:00:00.500Z', result: 'ca-refused', exitCode: 9, error: 'no' },
      lastSuccess: '2026-11-01T10:00:00.000Z',
    },
    served: { fingerprint: 'BB', matches: false },
  },
  {
    namespace: 'tenant-2',
    secret: 'xsoar-tls',
    installed: { notAfter: '2027-11-29T08:07:44.000Z', fingerprint: 'CC' },
    state: { namespace: 'tenant-2', secret: 'xsoar-tls', failures: 0 },
  },
  { namespace: 'gone', secret: 'xsoar-tls', problem: 'secret gone/xsoar-tls not found', stateError: 'damaged' },
];

test('the exposition: HELP and TYPE once per family, samples together, facts not known left out', () => {
  const text = renderMetrics(healths);
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.trimEnd().split('\n');
  const samples = (name: string) => lines.filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  expect(samples('xsoar_cert_not_after_timestamp_seconds')).toEqual([
    'xsoar_cert_not_after_timestamp_seconds{namespace="tenant-1",secret="xsoar-tls"} 1827475663',
    'xsoar_cert_not_after_timestamp_seconds{namespace="tenant-2",secret="xsoar-tls"} 1827475664',
  ]);
  expect(samples('xsoar_cert_installed_ok').map((l) => l.split(' ')[1])).toEqual(['1', '1', '0']);
  expect(samples('xsoar_cert_renewal_last_attempt_timestamp_seconds')).toEqual([
    'xsoar_cert_renewal_last_attempt_timestamp_seconds{namespace="tenant-1",secret="xsoar-tls"} 1796119200.5',
  ]);
  expect(samples('xsoar_cert_renewal_last_success_timestamp_seconds')).toHaveLength(1);
  expect(samples('xsoar_cert_renewal_last_result')).toEqual([
    'xsoar_cert_renewal_last_result{namespace="tenant-1",secret="xsoar-tls"} 9',
  ]);
  expect(samples('xsoar_cert_renewal_failures_total').map((l) => l.split(' ')[1])).toEqual(['2', '0']);
  expect(samples('xsoar_cert_served_matches_installed')).toEqual([
    'xsoar_cert_served_matches_installed{namespace="tenant-1",secret="xsoar-tls"} 0',
  ]);
  expect(lines).toContain('# TYPE xsoar_cert_renewal_failures_total counter');
  expect(lines).toContain('# TYPE xsoar_cert_not_after_timestamp_seconds gauge');
  // Every family's lines are contiguous, HELP then TYPE then its samples.
  const order = lines.map((l) => l.replace(/^# (HELP|TYPE) /, '').split(/[{ ]/)[0]);
  expect(order.filter((n, i) => n !== order[i - 1])).toEqual([...new Set(order)]);
  for (const name of new Set(order)) expect(lines.filter((l) => l.startsWith(`# HELP ${name} `))).toHaveLength(1);
});

test('awkward label values are escaped, and promtool accepts the result', () => {
  const text = renderFamilies([
    {
      name: 'xsoar_cert_test_value',
      type: 'gauge',
      help: 'A test with a \\ backslash\nand a line feed.',
      samples: [{ labels: { namespace: 'a"b', secret: 'c\\d\ne' }, value: 1 }],
    },
    { name: 'xsoar_cert_empty', type: 'gauge', help: 'Left out: no samples.', samples: [] },
  ]);
  expect(text).toBe(
    '# HELP xsoar_cert_test_value A test with a \\\\ backslash\\nand a line feed.\n' +
      '# TYPE xsoar_cert_test_value gauge\n' +
      'xsoar_cert_test_value{namespace="a\\"b",secret="c\\\\d\\ne"} 1\n',
  );
  if (!promtool) return; // .ci/run installs Debian's prometheus; the e2e test needs it
  for (const t of [text, renderMetrics(healths)])
    expect(() =>
      execFileSync(promtool, ['check', 'metrics'], { input: t, stdio: ['pipe', 'pipe', 'pipe'] }),
    ).not.toThrow();
});

test('writeMetricsFile replaces the file whole, 0644 whatever the umask, and leaves no temporary file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-metrics-'));
  const file = path.join(dir, 'xsoar-cert.prom');
  writeFileSync(file, 'old\n');
  const old = process.umask(0o077);
  try {
    await writeMetricsFile(file, 'new 1\n');
  } finally {
    process.umask(old);
  }
  expect(readFileSync(file, 'utf8')).toBe('new 1\n');
  expect(statSync(file).mode & 0o777).toBe(0o644);
  expect(readdirSync(dir)).toEqual(['xsoar-cert.prom']);
  const missing = path.join(dir, 'no-such-folder', 'x.prom');
  await expect(writeMetricsFile(missing, 'x 1\n')).rejects.toThrow(InputError);
  await expect(writeMetricsFile(missing, 'x 1\n')).rejects.toThrow(/cannot write the metrics file \(ENOENT\)/);
  expect(existsSync(path.dirname(missing))).toBe(false);
  // A folder in the way: the rename fails and the temporary file is removed.
  await expect(writeMetricsFile(dir, 'x 1\n')).rejects.toThrow(InputError);
  expect(readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`.${path.basename(dir)}.`))).toEqual([]);
});

test('writeFleetMetrics (for renew and status): reads the tenants and writes their metrics', async () => {
  const { writeFleetMetrics } = await import('../../../src/ops/metrics.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-metrics-'));
  const saved = process.env.XSOAR_CERT_STATE_DIR;
  process.env.XSOAR_CERT_STATE_DIR = path.join(dir, 'state');
  const { fakeApi, status } = await import('../../helpers/fake-api.js');
  const { api, calls } = fakeApi(() => status(404, 'NotFound', 'secrets "xsoar-tls" not found', { kind: 'secrets' }));
  try {
    const file = path.join(dir, 'fleet.prom');
    const hs = await writeFleetMetrics([{ namespace: 'a', secret: 'xsoar-tls' }], file, { api });
    expect(hs[0]).toMatchObject({ namespace: 'a', problem: 'secret not found' });
    expect(calls).toHaveLength(1);
    expect(readFileSync(file, 'utf8')).toMatch(/^xsoar_cert_installed_ok\{namespace="a",secret="xsoar-tls"\} 0$/m);
    expect(readFileSync(file, 'utf8')).toMatch(
      /^xsoar_cert_renewal_failures_total\{namespace="a",secret="xsoar-tls"\} 0$/m,
    );
  } finally {
    process.env.XSOAR_CERT_STATE_DIR = saved;
  }
});
