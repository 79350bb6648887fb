// gatherHealth with the API injected: how many requests a fleet costs, and
// what each tenant's facts say when its secret is missing, empty or the cluster does not answer.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { fakeApi, status, type Recorded } from '../../helpers/fake-api.js';
import { gatherHealth } from '../../../src/ops/health.js';
import { writeRenewalState } from '../../../src/ops/renewal-state.js';
import { mintChain } from '../../helpers/test-ca.js';

let pem: string;
let cert: X509Certificate;
const saved = process.env.XSOAR_CERT_STATE_DIR;
beforeAll(async () => {
  process.env.XSOAR_CERT_STATE_DIR = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
  pem = (await mintChain({ intermediates: 0 })).leaf.certPem;
  cert = new X509Certificate(pem);
});
afterAll(() => (process.env.XSOAR_CERT_STATE_DIR = saved));

const secret = (ns: string, name: string, crt = pem) => ({
  kind: 'Secret',
  type: 'kubernetes.io/tls',
  metadata: { name, namespace: ns },
  data: { 'tls.crt': Buffer.from(crt).toString('base64') },
});

const FORBIDDEN = status(
  403,
  'Forbidden',
  'secrets is forbidden: User "u" cannot list resource "secrets" at the cluster scope',
);
const NOT_FOUND = status(404, 'NotFound', 'secrets "x" not found', { kind: 'secrets' });
const line = (c: Recorded) => `${c.method} ${decodeURIComponent(c.path)}`;

test('a fleet across namespaces: one request lists every TLS secret; the renewal state is read too', async () => {
  writeRenewalState({ namespace: 'b', secret: 'xsoar-tls', failures: 2, failingSince: '2026-12-01T00:00:00.000Z' });
  const f = fakeApi((r) =>
    r.path.startsWith('/api/v1/secrets?')
      ? { json: { items: [secret('a', 'xsoar-tls'), secret('b', 'xsoar-tls'), secret('z', 'other')] } }
      : NOT_FOUND,
  );
  const targets = ['a', 'b', 'c'].map((namespace) => ({ namespace, secret: 'xsoar-tls' }));
  const hs = await gatherHealth(targets, { api: f.api });
  // c is not in the list (missing, or not of type kubernetes.io/tls): read on its own.
  expect(f.calls.map(line)).toEqual([
    // Previous versions are not read: what is installed is what monitoring needs.
    'GET /api/v1/secrets?fieldSelector=type=kubernetes.io/tls&labelSelector=!xsoar-cert.io/previous-of',
    'GET /api/v1/namespaces/c/secrets/xsoar-tls',
  ]);
  const installed = { notAfter: new Date(cert.validTo).toISOString(), fingerprint: cert.fingerprint256 };
  expect(hs[0]).toEqual({
    namespace: 'a',
    secret: 'xsoar-tls',
    installed,
    state: { namespace: 'a', secret: 'xsoar-tls', failures: 0 },
  });
  expect(hs[1]!.state).toMatchObject({ failures: 2 });
  expect(hs[2]).toMatchObject({ namespace: 'c', problem: 'secret not found' });
  expect(hs[2]!.installed).toBeUndefined();
});

test('namespaced roles only: each secret read by name, missing ones and bad ones each say so', async () => {
  const f = fakeApi((r) => {
    if (r.path.startsWith('/api/v1/secrets?')) return FORBIDDEN;
    const [, ns, name] = /namespaces\/([^/]+)\/secrets\/(.+)$/.exec(r.path)!;
    if (name === 's3') return NOT_FOUND;
    return { json: secret(ns!, name!, name === 's2' ? 'junk' : pem) };
  });
  const targets = [
    { namespace: 'a', secret: 's1' },
    { namespace: 'b', secret: 'xsoar-tls' },
    { namespace: 'a', secret: 's2' },
    { namespace: 'a', secret: 's3' },
  ];
  const hs = await gatherHealth(targets, { api: f.api });
  expect(f.calls.map(line).sort()).toEqual([
    'GET /api/v1/namespaces/a/secrets/s1',
    'GET /api/v1/namespaces/a/secrets/s2',
    'GET /api/v1/namespaces/a/secrets/s3',
    'GET /api/v1/namespaces/b/secrets/xsoar-tls',
    'GET /api/v1/secrets?fieldSelector=type=kubernetes.io/tls&labelSelector=!xsoar-cert.io/previous-of',
  ]);
  expect(hs.map((h) => h.installed?.fingerprint ?? h.problem)).toEqual([
    cert.fingerprint256,
    cert.fingerprint256,
    'tls.crt holds no certificate',
    'secret not found',
  ]);
});

test('the cluster does not answer: every tenant carries the reason, no retry per namespace, no handshake', async () => {
  const f = fakeApi(() => ({ status: 502, text: 'dial tcp 127.0.0.1:1: connect: connection refused' }));
  const hs = await gatherHealth(
    [
      { namespace: 'a', secret: 'xsoar-tls', endpoint: '127.0.0.1:1' },
      { namespace: 'b', secret: 'xsoar-tls' },
    ],
    { api: f.api },
  );
  expect(f.calls).toHaveLength(1);
  for (const h of hs) expect(h.problem).toMatch(/^cannot reach the cluster/);
  expect(hs[0]!.served).toBeUndefined();
});
