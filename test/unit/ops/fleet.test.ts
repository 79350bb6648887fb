import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseTenantsFile, resolveTargets, runFleet, fleetTable, parseParallel } from '../../../src/ops/fleet.js';
import { BusyError, InputError } from '../../../src/errors.js';

test('tenants file: comments, blank lines, default secret, and a bad line named by number', () => {
  expect(
    parseTenantsFile(
      '# tenants\ntenant-1\n\ntenant-2/custom-tls  # note\ntenant-3 10.0.0.5:18503\n',
      't.txt',
      'xsoar-tls',
    ),
  ).toEqual([
    { namespace: 'tenant-1', secret: 'xsoar-tls' },
    { namespace: 'tenant-2', secret: 'custom-tls' },
    { namespace: 'tenant-3', secret: 'xsoar-tls', endpoint: '10.0.0.5:18503' },
  ]);
  expect(() => parseTenantsFile('ok\nBad Name\n', 't.txt', 's')).toThrow(/t\.txt:2: "Bad Name"/);
});

test('targets from -n and a file are merged without duplicates; none given → the default', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fleet-'));
  writeFileSync(path.join(dir, 't'), 'a\nb\na\n');
  const t = await resolveTargets(
    { namespace: ['b', 'c'], tenantsFile: path.join(dir, 't') },
    { namespace: 'xsoar', secret: 's' },
  );
  expect(t.map((x) => x.namespace)).toEqual(['b', 'c', 'a']);
  expect(await resolveTargets({}, { namespace: 'xsoar', secret: 's' })).toEqual([{ namespace: 'xsoar', secret: 's' }]);
  await expect(
    resolveTargets({ tenantsFile: path.join(dir, 'missing') }, { namespace: 'x', secret: 's' }),
  ).rejects.toThrow(InputError);
  await expect(resolveTargets({ allNamespaces: true }, { namespace: 'x', secret: 's' })).rejects.toThrow(
    /needs --selector/,
  );
});

test('runFleet bounds concurrency, keeps order, and isolates failures', async () => {
  let inFlight = 0;
  let peak = 0;
  const targets = Array.from({ length: 12 }, (_, i) => ({ namespace: `t${i}`, secret: 's' }));
  const results = await runFleet(targets, 3, async (t) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (t.namespace === 't4') throw new BusyError('lock held');
    return t.namespace.toUpperCase();
  });
  expect(peak).toBe(3);
  expect(results.map((r) => r.target.namespace)).toEqual(targets.map((t) => t.namespace));
  expect(results.filter((r) => !r.ok).map((r) => [r.target.namespace, r.exitCode])).toEqual([['t4', 7]]);
  expect(results[0]!.value).toBe('T0');
  const table = fleetTable(results, (v) => v);
  expect(table).toMatch(/^TENANT\s+RESULT\s+DETAIL$/m);
  expect(table).toMatch(/^t4\/s\s+FAILED \(exit 7\)\s+lock held$/m);
  expect(table.trim().split('\n').pop()).toBe('11 ok, 1 failed');
});

test('parseParallel', () => {
  expect(parseParallel(undefined)).toBe(4);
  expect(parseParallel('16')).toBe(16);
  expect(() => parseParallel('0')).toThrow(/--parallel/);
});
