// The sandbox's object store on its own: lists sorted by "namespace/name" as plain strings (the
// order list `continue` tokens compare in), copies for callers that edit, frozen shared objects
// for readers that only serialise, no-op updates that keep the resourceVersion, and events.
import path from 'node:path';
import { ROOT } from '../helpers/run-cli.js';

let Store: any;
let sameObject: any;
beforeAll(async () => {
  ({ Store, sameObject } = await import(path.join(ROOT, 'scripts', 'sandbox', 'store.mjs')));
});

const secret = (namespace: string, name: string, data: Record<string, string> = { a: 'QQ==' }) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace, labels: { app: 'x' } },
  data,
});

test('lists are sorted by namespace/name, per namespace and across all, as objects come and go', () => {
  const s = new Store();
  const keys = ['tenant-10/b', 'tenant-1/z', 'tenant-2/a', 'tenant-1/a.b', 'tenant-1/a-b', 'a-b/c', 'a/z'];
  for (const k of keys) s.create('secrets', secret(k.split('/')[0]!, k.split('/')[1]!));
  const names = (xs: any[]) => xs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  expect(names(s.list('secrets'))).toEqual([...keys].sort());
  expect(names(s.list('secrets', 'tenant-1'))).toEqual(['tenant-1/a-b', 'tenant-1/a.b', 'tenant-1/z']);
  s.delete('secrets', 'tenant-1', 'a.b');
  s.create('secrets', secret('tenant-1', 'm'));
  s.update('secrets', { ...s.get('secrets', 'tenant-1', 'z'), data: { a: 'Qg==' } });
  expect(names(s.list('secrets', 'tenant-1'))).toEqual(['tenant-1/a-b', 'tenant-1/m', 'tenant-1/z']);
  expect(names(s.view('secrets'))).toEqual(
    ['tenant-10/b', 'tenant-1/z', 'tenant-2/a', 'tenant-1/a-b', 'a-b/c', 'a/z', 'tenant-1/m'].sort(),
  );
  expect(s.view('secrets', 'tenant-1')[2].data).toEqual({ a: 'Qg==' });
  expect(s.list('deployments')).toEqual([]);
  expect(s.list('secrets', 'nowhere')).toEqual([]);
});

test('get and list return copies; peek, view and events share the frozen stored object', () => {
  const s = new Store();
  const input = secret('ns', 'one');
  const created = s.create('secrets', input);
  input.metadata.labels.app = 'changed';
  created.metadata.labels.app = 'changed';
  const got = s.get('secrets', 'ns', 'one');
  got.data.a = 'Qg==';
  s.list('secrets')[0].metadata.name = 'renamed';
  expect(s.peek('secrets', 'ns', 'one').metadata.labels.app).toBe('x');
  expect(s.peek('secrets', 'ns', 'one').data.a).toBe('QQ==');
  expect(s.view('secrets')[0].metadata.name).toBe('one');
  expect(Object.isFrozen(s.peek('secrets', 'ns', 'one').metadata.labels)).toBe(true);
  expect(() => {
    s.view('secrets')[0].metadata.labels.app = 'no';
  }).toThrow(TypeError);
  const events: any[] = [];
  s.subscribe((e: any) => events.push(e));
  s.update('secrets', { ...got, data: { a: 'Qg==' } });
  expect(events[0].object).toBe(s.peek('secrets', 'ns', 'one'));
  const gone = s.delete('secrets', 'ns', 'one');
  expect(gone.metadata.resourceVersion).toBe(String(s.rv));
  expect(events.map((e) => [e.type, e.object.metadata.resourceVersion])).toEqual([
    ['MODIFIED', String(s.rv - 1)],
    ['DELETED', String(s.rv)],
  ]);
});

test('an update that changes nothing but key order or managedFields keeps the resourceVersion', () => {
  const s = new Store();
  const o = s.create('secrets', {
    ...secret('ns', 'one'),
    metadata: { ...secret('ns', 'one').metadata, managedFields: [] },
  });
  const rv = s.rv;
  const reordered = { data: o.data, metadata: { labels: o.metadata.labels, ...o.metadata, managedFields: [{ m: 1 }] } };
  expect(
    s.update('secrets', { ...reordered, kind: 'Secret', apiVersion: 'v1', extra: undefined }).metadata.resourceVersion,
  ).toBe(String(rv));
  expect(s.rv).toBe(rv);
  s.update('secrets', { ...o, data: { a: 'Qg==' } });
  expect(s.rv).toBe(rv + 1);
});

test('sameObject: deep, order-blind, undefined members and managedFields ignored, types kept apart', () => {
  expect(sameObject({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
  expect(sameObject({ a: 1, u: undefined }, { a: 1 })).toBe(true);
  expect(sameObject({ a: { managedFields: [1] } }, { a: { managedFields: [2] } })).toBe(true);
  expect(sameObject({ a: 1 }, { a: '1' })).toBe(false);
  expect(sameObject({ a: [] }, { a: {} })).toBe(false);
  expect(sameObject({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  expect(sameObject({ a: null }, { a: undefined })).toBe(false);
  expect(sameObject({ a: { b: 1 } }, { a: { b: 1, c: 2 } })).toBe(false);
});
