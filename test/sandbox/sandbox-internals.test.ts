// The sandbox's own building blocks, checked without kubectl: the protobuf
// decoder against bodies framed as kubectl frames them, the three patch
// flavours, label selectors, and Go's HumanDuration for the Age column.
import path from 'node:path';
import { ROOT } from '../helpers/run-cli.js';

const load = (name: string): Promise<any> => import(path.join(ROOT, 'scripts', 'sandbox', name));

let pb: any;
let patch: any;
let api: any;
let shapes: any;
beforeAll(async () => {
  [pb, patch, api, shapes] = await Promise.all([
    load('protobuf.mjs'),
    load('patch.mjs'),
    load('api-server.mjs'),
    load('k8s-shapes.mjs'),
  ]);
});

test('a protobuf Secret decodes to its JSON form, bytes as base64, zero creationTimestamp dropped', () => {
  const f = pb.encodeField;
  const entry = (k: string, v: Buffer) => f(2, Buffer.concat([f(1, k), f(2, v)]));
  const meta = Buffer.concat([
    f(1, 'web-tls'),
    f(3, 'xsoar'),
    f(8, Buffer.alloc(0)),
    f(11, Buffer.concat([f(1, 'a'), f(2, 'b')])),
  ]);
  const raw = Buffer.concat([
    f(1, meta),
    entry('tls.crt', Buffer.from('CERT')),
    entry('tls.key', Buffer.from([0, 255, 1])),
    f(3, 'kubernetes.io/tls'),
  ]);
  const obj = pb.decodeK8sProtobuf(pb.encodeK8sProtobuf('v1', 'Secret', raw));
  expect(obj).toEqual({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'web-tls', namespace: 'xsoar', labels: { a: 'b' } },
    data: { 'tls.crt': Buffer.from('CERT').toString('base64'), 'tls.key': Buffer.from([0, 255, 1]).toString('base64') },
    type: 'kubernetes.io/tls',
  });
});

test('a protobuf SelfSubjectAccessReview yields its resource attributes; bad frames are refused', () => {
  const f = pb.encodeField;
  const ra = Buffer.concat([f(1, 'ns1'), f(2, 'create'), f(5, 'secrets')]);
  const obj = pb.decodeK8sProtobuf(
    pb.encodeK8sProtobuf('authorization.k8s.io/v1', 'SelfSubjectAccessReview', Buffer.concat([f(2, f(1, ra))])),
  );
  expect(obj.spec.resourceAttributes).toEqual({ namespace: 'ns1', verb: 'create', resource: 'secrets' });
  expect(() => pb.decodeK8sProtobuf(Buffer.from('{"kind":"Secret"}'))).toThrow(/magic/);
  expect(() => pb.decodeK8sProtobuf(pb.encodeK8sProtobuf('v1', 'Pod', Buffer.alloc(0)))).toThrow(
    /Pod is not supported/,
  );
  const truncated = pb.encodeK8sProtobuf('v1', 'Secret', f(1, f(1, 'x')));
  expect(() => pb.decodeK8sProtobuf(truncated.subarray(0, truncated.length - 1))).toThrow(/truncated/);
});

test('strategic merge patch merges containers/env by name, honours $patch: delete and null', () => {
  const dep = {
    spec: {
      template: {
        metadata: { annotations: { keep: '1' } },
        spec: {
          containers: [
            {
              name: 'proxy',
              image: 'a',
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
            { name: 'side', image: 's' },
          ],
        },
      },
    },
  };
  const out = patch.applyStrategicMergePatch(dep, {
    spec: {
      template: {
        metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'now', keep: null } },
        spec: {
          containers: [
            {
              name: 'proxy',
              env: [
                { name: 'B', value: '3' },
                { name: 'A', $patch: 'delete' },
                { name: 'C', value: '4' },
              ],
            },
          ],
        },
      },
    },
  });
  expect(out.spec.template.metadata.annotations).toEqual({ 'kubectl.kubernetes.io/restartedAt': 'now' });
  expect(out.spec.template.spec.containers).toEqual([
    {
      name: 'proxy',
      image: 'a',
      env: [
        { name: 'B', value: '3' },
        { name: 'C', value: '4' },
      ],
    },
    { name: 'side', image: 's' },
  ]);
  // Lists without a merge key are replaced; the original is not mutated.
  expect(patch.applyStrategicMergePatch({ args: ['a', 'b'] }, { args: ['c'] })).toEqual({ args: ['c'] });
  expect(dep.spec.template.spec.containers[0]!.env).toHaveLength(2);
});

test('JSON merge patch and JSON patch follow RFC 7386 and RFC 6902', () => {
  expect(patch.applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] })).toEqual({
    a: { c: 2, d: 3 },
    l: [3],
  });
  const doc = { metadata: { labels: { a: 'b' } }, list: [1, 2, 3] };
  expect(
    patch.applyJsonPatch(doc, [
      { op: 'add', path: '/metadata/labels/x~1y', value: 'z' },
      { op: 'remove', path: '/list/1' },
      { op: 'replace', path: '/metadata/labels/a', value: 'c' },
      { op: 'copy', from: '/list/0', path: '/first' },
      { op: 'test', path: '/first', value: 1 },
    ]),
  ).toEqual({ metadata: { labels: { a: 'c', 'x/y': 'z' } }, list: [1, 3], first: 1 });
  expect(() => patch.applyJsonPatch(doc, [{ op: 'test', path: '/list/0', value: 9 }])).toThrow(/testing value/);
  expect(() => patch.applyJsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }])).toThrow(/missing path/);
});

test('label selectors: equality, inequality, sets, existence', () => {
  const sel = (s: string) => api.parseLabelSelector(s);
  const labels = { app: 'proxy', tier: 'edge', 'app.kubernetes.io/part-of': 'xsoar' };
  expect(sel('app.kubernetes.io/part-of=xsoar')(labels)).toBe(true);
  expect(sel('app==proxy,tier!=edge')(labels)).toBe(false);
  expect(sel('tier in (edge, core),!missing')(labels)).toBe(true);
  expect(sel('tier notin (edge)')(labels)).toBe(false);
  expect(sel('missing')(labels)).toBe(false);
  expect(sel('')({})).toBe(true);
});

test('the Age column reads like kubectl (HumanDuration)', () => {
  const h = shapes.humanDuration;
  expect([
    h(5000),
    h(119000),
    h(125000),
    h(3600000 * 2.5),
    h(3600000 * 4.5),
    h(3600000 * 30),
    h(86400000 * 3 + 3600000 * 4),
    h(86400000 * 400),
  ]).toEqual(['5s', '119s', '2m5s', '150m', '4h30m', '30h', '3d4h', '400d']);
});
