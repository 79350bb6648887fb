// The heap is set frugal once a run knows it covers many tenants (src/heap.ts). Each case runs in a
// fresh node, because V8's flags are process-wide: resolveFleet reads a tenants file, then the
// process allocates as a fleet run does (short-lived answers, some kept a while) and reports how
// large V8 let its young generation grow.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');

const CHILD = `
  import { getHeapSpaceStatistics } from 'node:v8';
  const { resolveFleet } = await import(process.argv[1]);
  const { targets } = await resolveFleet({ tenantsFile: process.argv[2] }, { namespace: 'x', secret: 'xsoar-tls' });
  let keep = [];
  for (let i = 0; i < 400000; i++) {
    keep.push({ answer: 'x'.repeat(40) + i });
    if (keep.length > 20000) keep = keep.slice(10000);
  }
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  console.log(JSON.stringify({ tenants: targets.length, youngMiB: young / 1048576 }));
`;

function run(tenants: number): { tenants: number; youngMiB: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'xc-heap-'));
  const file = path.join(dir, 'tenants.txt');
  writeFileSync(file, Array.from({ length: tenants }, (_, i) => `tenant-${i}/xsoar-tls\n`).join(''));
  try {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', CHILD, path.join(DIST, 'ops', 'fleet.js'), file],
      { encoding: 'utf8' },
    );
    return JSON.parse(out) as { tenants: number; youngMiB: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a run of 256 tenants keeps the young generation at its start size; 255 tenants let it grow', () => {
  const big = run(256);
  const small = run(255);
  expect(big.tenants).toBe(256);
  expect(small.tenants).toBe(255);
  // V8 starts with two 1 MiB semi-spaces and doubles them up to 16 MiB each under this load.
  expect(big.youngMiB).toBeLessThanOrEqual(4);
  expect(small.youngMiB).toBeGreaterThanOrEqual(16);
});
