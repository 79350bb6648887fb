// gatherHealth with the kubectl boundary injected: how many kubectl processes a fleet costs, and
// what each tenant's facts say when its secret is missing, empty or the cluster does not answer.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Run, RunResult } from '../../../src/k8s/kubectl.js';
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

function fake(answer: (args: string[]) => Partial<RunResult>) {
  const calls: string[][] = [];
  const run: Run = async (_bin, args) => {
    calls.push(args);
    return { exitCode: 0, stdout: '', stderr: '', ...answer(args) };
  };
  return { calls, run };
}
const FORBIDDEN = {
  exitCode: 1,
  stderr:
    'Error from server (Forbidden): secrets is forbidden: User "u" cannot list resource "secrets" at the cluster scope',
};

test('a fleet across namespaces: one kubectl process lists every TLS secret; the renewal state is read too', async () => {
  writeRenewalState({ namespace: 'b', secret: 'xsoar-tls', failures: 2, failingSince: '2026-12-01T00:00:00.000Z' });
  const f = fake((args) =>
    args.includes('--all-namespaces')
      ? {
          stdout: JSON.stringify({ items: [secret('a', 'xsoar-tls'), secret('b', 'xsoar-tls'), secret('z', 'other')] }),
        }
      : { stdout: '' },
  );
  const targets = ['a', 'b', 'c'].map((namespace) => ({ namespace, secret: 'xsoar-tls' }));
  const hs = await gatherHealth(targets, { run: f.run });
  // c is not in the list (missing, or not of type kubernetes.io/tls): read on its own.
  expect(f.calls.map((a) => a.join(' '))).toEqual([
    // Previous versions are not read: what is installed is what monitoring needs.
    'get secrets --all-namespaces --field-selector type=kubernetes.io/tls -l !xsoar-cert.io/previous-of -o json',
    '--namespace c get secret -o json --ignore-not-found -- xsoar-tls',
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

test('namespaced roles only: one kubectl process per namespace, several secrets of one namespace together', async () => {
  const f = fake((args) => {
    if (args.includes('--all-namespaces')) return FORBIDDEN;
    if (args.includes('a'))
      return { stdout: JSON.stringify({ kind: 'List', items: [secret('a', 's1'), secret('a', 's2', 'junk')] }) };
    return { stdout: JSON.stringify(secret('b', 'xsoar-tls')) };
  });
  const targets = [
    { namespace: 'a', secret: 's1' },
    { namespace: 'b', secret: 'xsoar-tls' },
    { namespace: 'a', secret: 's2' },
    { namespace: 'a', secret: 's3' },
  ];
  const hs = await gatherHealth(targets, { run: f.run });
  expect(f.calls).toHaveLength(3);
  expect(f.calls).toContainEqual([
    '--namespace',
    'a',
    'get',
    'secret',
    '-o',
    'json',
    '--ignore-not-found',
    '--',
    's1',
    's2',
    's3',
  ]);
  expect(hs.map((h) => h.installed?.fingerprint ?? h.problem)).toEqual([
    cert.fingerprint256,
    cert.fingerprint256,
    'tls.crt holds no certificate',
    'secret not found',
  ]);
});

test('the cluster does not answer: every tenant carries the reason, no retry per namespace, no handshake', async () => {
  const f = fake(() => ({ exitCode: 1, stderr: 'The connection to the server 127.0.0.1:1 was refused' }));
  const hs = await gatherHealth(
    [
      { namespace: 'a', secret: 'xsoar-tls', endpoint: '127.0.0.1:1' },
      { namespace: 'b', secret: 'xsoar-tls' },
    ],
    { run: f.run },
  );
  expect(f.calls).toHaveLength(1);
  for (const h of hs) expect(h.problem).toMatch(/^cannot reach the cluster/);
  expect(hs[0]!.served).toBeUndefined();
});
