import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fleetTable, parseTenantsFile, resolveFleet, type Target } from '../../../src/ops/fleet.js';
import { byContext, perCluster } from '../../../src/ops/clusters.js';
import { KubectlError, UsageError } from '../../../src/errors.js';
import type { Kubectl } from '../../../src/k8s/kubectl.js';

test('tenants file: "context:namespace[/secret]" names a context; old lines keep their meaning', () => {
  const text =
    'tenant-1\ntenant-2/custom-tls 10.0.0.5:443\nsite-a:tenant-1\nsite-b:tenant-2/other 10.0.0.6:443\n' +
    'arn:aws:eks:eu-west-1:123456789012:cluster/prod:xsoar\n';
  expect(parseTenantsFile(text, 't.txt', 'xsoar-tls')).toEqual([
    { namespace: 'tenant-1', secret: 'xsoar-tls' },
    { namespace: 'tenant-2', secret: 'custom-tls', endpoint: '10.0.0.5:443' },
    { namespace: 'tenant-1', secret: 'xsoar-tls', context: 'site-a' },
    { namespace: 'tenant-2', secret: 'other', endpoint: '10.0.0.6:443', context: 'site-b' },
    { namespace: 'xsoar', secret: 'xsoar-tls', context: 'arn:aws:eks:eu-west-1:123456789012:cluster/prod' },
  ]);
  expect(() => parseTenantsFile('-kubeconfig=x:ns\n', 't.txt', 's')).toThrow(
    /t\.txt:1: "-kubeconfig=x" is not a valid context/,
  );
  expect(() => parseTenantsFile('ctx:Bad\n', 't.txt', 's')).toThrow(/t\.txt:1: "Bad" is not a valid namespace/);
  expect(() => parseTenantsFile('a/b/c\n', 't.txt', 's')).toThrow(/is not "\[context:\]namespace\[\/secret\]/);
});

const fakeKubectl = (byCtx: Record<string, string[] | Error>) => (ctx: string | undefined) =>
  ({
    namespacesMatching: async () => {
      const v = byCtx[ctx ?? ''];
      if (v instanceof Error) throw v;
      return v ?? [];
    },
  }) as unknown as Kubectl;

test('repeated --context: -n and -A -l in each; a cluster that cannot be listed is one failed row', async () => {
  const dflt = { namespace: 'xsoar', secret: 's' };
  const n = await resolveFleet({ namespace: ['a'], contexts: ['c1', 'c2'] }, dflt);
  expect(n.targets).toEqual([
    { namespace: 'a', secret: 's', context: 'c1' },
    { namespace: 'a', secret: 's', context: 'c2' },
  ]);
  const none = await resolveFleet({ contexts: ['c1', 'c2'] }, dflt);
  expect(none.targets.map((t) => t.context)).toEqual(['c1', 'c2']);
  const down = new KubectlError('Unable to connect to the server', { verb: 'get', args: [] });
  const a = await resolveFleet(
    { allNamespaces: true, selector: 'x=y', contexts: ['c1', 'c2'] },
    dflt,
    fakeKubectl({ c1: ['t1', 't2'], c2: down }),
  );
  expect(a.targets.map((t) => `${t.context}:${t.namespace}`)).toEqual(['c1:t1', 'c1:t2']);
  expect(a.lost).toEqual([
    expect.objectContaining({ target: { namespace: '*', secret: 's', context: 'c2' }, ok: false, exitCode: 4 }),
  ]);
  // One context: the selection's failure is the run's, as before.
  await expect(resolveFleet({ allNamespaces: true, selector: 'x=y' }, dflt, fakeKubectl({ '': down }))).rejects.toThrow(
    KubectlError,
  );
});

test('with several --context a tenants-file line must name its context', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clusters-'));
  const f = path.join(dir, 't');
  writeFileSync(f, 'c1:a\nb\n');
  await expect(
    resolveFleet({ tenantsFile: f, contexts: ['c1', 'c2'] }, { namespace: 'x', secret: 's' }),
  ).rejects.toThrow(UsageError);
  writeFileSync(f, 'c1:a\nc2:a\nc1:a\n');
  const r = await resolveFleet({ tenantsFile: f }, { namespace: 'x', secret: 's' });
  expect(r.targets.map((t) => t.context)).toEqual(['c1', 'c2']);
});

test('perCluster: groups run in turn, a throwing group fails its tenants only, order kept; one group throws', async () => {
  const ts: Target[] = [
    { namespace: 'a', secret: 's', context: 'c1' },
    { namespace: 'a', secret: 's', context: 'c2' },
    { namespace: 'b', secret: 's', context: 'c1' },
  ];
  expect([...byContext(ts).keys()]).toEqual(['c1', 'c2']);
  let inFlight = 0;
  const results = await perCluster<string>(ts, [], async (ctx, group) => {
    expect(inFlight++).toBe(0);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (ctx === 'c2') throw new KubectlError('Unable to connect to the server', { verb: 'get', args: [] });
    return group.map((t) => ({ target: t, ok: true, value: `${ctx}/${t.namespace}`, ms: 1 }));
  });
  expect(results.map((r) => [r.target.context, r.target.namespace, r.ok, r.exitCode])).toEqual([
    ['c1', 'a', true, undefined],
    ['c2', 'a', false, 4],
    ['c1', 'b', true, undefined],
  ]);
  const table = fleetTable(results, (v) => v);
  expect(table).toMatch(/^c2:a\/s\s+FAILED \(exit 4\)\s+Unable to connect/m);
  expect(table).toMatch(/^c1:b\/s\s+ok\s+c1\/b$/m);
  await expect(
    perCluster([ts[0]!], [], async () => {
      throw new UsageError('alone');
    }),
  ).rejects.toThrow('alone');
});
