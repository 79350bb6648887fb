// An unreachable cluster or a missing kubectl: one line naming the namespace and what to do,
// exit 4, no stack trace, and nothing written. Bad files are still reported first.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs } from '../helpers/args.js';
import { runCli } from '../helpers/run-cli.js';

let m: MintedChain;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  m = await mintChain({ intermediates: 1, hosts: ['localhost'] });
  // A port that was just free: nothing listens there, so every connection is refused.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-dead-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:${port}\ncontexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\ncurrent-context: dead\nusers:\n- name: u\n  user: {}\n`,
  );
  env = {
    KUBECONFIG: kubeconfig,
    KUBECACHEDIR: path.join(dir, 'cache'),
    HOME: dir,
    XSOAR_CERT_STATE_DIR: path.join(dir, 'state'),
  };
});
const install = (host: string, extra: NodeJS.ProcessEnv = {}) =>
  runCli(installArgs(m, ['-n', 'tenant-a', '--yes'], { host }), { env: { ...env, ...extra } });

test('install against an unreachable cluster: exit 4, one line naming the namespace, a hint, no stack', async () => {
  const r = await install('localhost');
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(
    /^xsoar-cert: cannot reach the cluster for namespace "tenant-a": .*refused.*\n  Check KUBECONFIG/m,
  );
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toMatch(/memcache\.go|Unhandled Error/);
});

test('a certificate that fails verify is reported (exit 1) even when the cluster is unreachable too', async () => {
  const r = await install('wrong.example');
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/wrong\.example/);
  expect(r.stderr).not.toMatch(/cannot reach the cluster/);
});

test('status and rollback against an unreachable cluster exit 4 the same way', async () => {
  for (const args of [
    ['status', '-n', 'tenant-a'],
    ['rollback', '-n', 'tenant-a', '--yes'],
  ]) {
    const r = await runCli(args, { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot reach the cluster for namespace "tenant-a"/);
  }
});

test('kubectl missing: exit 4, says how to install it', async () => {
  const r = await install('localhost', { XSOAR_CERT_KUBECTL: '/nonexistent/kubectl' });
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/kubectl not found \(looked for "\/nonexistent\/kubectl"/);
  expect(r.stderr).toMatch(/apt install kubernetes-client/);
});

test('a kubectl too old for `proxy --unix-socket`: exit 4, one line saying so, nothing else run', async () => {
  const old = path.join(env.HOME!, 'kubectl-old');
  // What a kubectl whose proxy has no --unix-socket answers (pflag's unknown-flag error).
  writeFileSync(old, '#!/bin/sh\necho "Error: unknown flag: --unix-socket" >&2\nexit 1\n', { mode: 0o755 });
  const r = await install('localhost', { XSOAR_CERT_KUBECTL: old });
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/^xsoar-cert: .*kubectl-old is too old: its "kubectl proxy" has no --unix-socket$/m);
  expect(r.stderr).toMatch(/Install a current kubectl/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('a damaged marker of an interrupted run is named, not ignored (exit 3), before the cluster is asked', async () => {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const state = path.join(env.HOME!, 'state-damaged');
  mkdirSync(path.join(state, 'markers'), { recursive: true });
  writeFileSync(path.join(state, 'markers', 'tenant-a__xsoar-tls.json'), '{"pid": 12, "op": "inst');
  const r = await runCli(['status', '-n', 'tenant-a'], { env: { ...env, XSOAR_CERT_STATE_DIR: state } });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(
    /tenant-a__xsoar-tls\.json: the marker of an interrupted tenant-a\/xsoar-tls run is damaged/,
  );
  expect(r.stderr).toMatch(/previous-of=xsoar-tls/);
});
