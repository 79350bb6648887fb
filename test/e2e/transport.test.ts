// The cluster transport (issue 19): one `kubectl proxy --unix-socket` per run, the REST API over
// it. What a user relies on: an install starts one kubectl and nothing else; kubectl's own
// authentication (an exec plugin printing a token) keeps working; the socket lives in a folder
// only the user may enter and never outlives the run, even a SIGKILLed one.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { installArgs, targetArgs } from '../helpers/args.js';
import { BIN, runCli } from '../helpers/run-cli.js';

const TOKEN = 'exec-plugin-token-7f3a';
let sb: Sandbox;
let certs: MintedChain[] = [];
let next = 0;
const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-transport-'));

beforeAll(async () => {
  // HTTPS and a bearer token on every request: kubectl sends credentials to TLS servers only.
  sb = await startSandbox({ token: TOKEN, rolloutDelayMs: 100 });
  certs = await Promise.all(
    [0, 1, 2, 3, 4, 5, 6, 7, 8].map(() =>
      mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1', 'xsoar.xsoar.local'] }),
    ),
  );
}, 120000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const install = (env: NodeJS.ProcessEnv = {}, extra: string[] = []) =>
  runCli(installArgs(certs[next++]!, [...targetArgs(t()), '--yes', '--timeout', '20', ...extra]), {
    env: { ...sb.env, ...env },
  });

/** A kubeconfig whose user authenticates with an exec plugin (client.authentication.k8s.io/v1). */
function execKubeconfig(): { kubeconfig: string; calls: string } {
  const dir = mkdtempSync(path.join(work, 'exec-'));
  const calls = path.join(dir, 'plugin.calls');
  const plugin = path.join(dir, 'token-plugin.sh');
  const credential = {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: TOKEN },
  };
  writeFileSync(plugin, `#!/bin/sh\necho called >> '${calls}'\necho '${JSON.stringify(credential)}'\n`, {
    mode: 0o700,
  });
  const sandboxConfig = readFileSync(sb.kubeconfig, 'utf8');
  const server = /server: (\S+)/.exec(sandboxConfig)![1];
  const ca = /certificate-authority-data: (\S+)/.exec(sandboxConfig)![1];
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "${server}", certificate-authority-data: "${ca}"}}]`,
      'contexts: [{name: via-plugin, context: {cluster: c, user: plugin-user}}]',
      'current-context: via-plugin',
      'users:',
      '- name: plugin-user',
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      `      command: ${plugin}`,
      '      interactiveMode: Never',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { kubeconfig, calls };
}

test('one install starts one process besides node: the kubectl proxy (counted with strace -f)', async () => {
  const out = path.join(work, 'strace');
  const m = certs[next++]!;
  const argv = [process.execPath, BIN, ...installArgs(m, [...targetArgs(t()), '--yes', '--timeout', '20'])];
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'signal=none', '-o', out, ...argv], {
    env: { ...sb.env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60000,
  });
  expect(r.status).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(m));
  const execs = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => /execve\("/.test(l) && !/= -1 /.test(l))
    .map((l) => /execve\("([^"]+)"/.exec(l)![1]!);
  const pids = new Set(
    readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => /execve\("/.test(l) && !/= -1 /.test(l))
      .map((l) => l.split(' ')[0]),
  );
  // node itself, then setpriv, which execs kubectl in the same process (pdeathsig).
  console.log(`one install: ${pids.size} processes (${execs.map((e) => path.basename(e)).join(' -> ')})`);
  expect(pids.size).toBe(2);
  expect(execs.map((e) => path.basename(e))).toEqual(['node', 'setpriv', 'kubectl']);
}, 90000);

test('a kubeconfig whose user is an exec plugin: install, status and rollback work through the proxy', async () => {
  const { kubeconfig, calls } = execKubeconfig();
  const env = { KUBECONFIG: kubeconfig };
  const before = (await sb.servedCert(t().endpoint)).sha256;
  const m = certs[next]!;
  const r = await install(env);
  expect(r.code).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(m));
  // The plugin was asked for the token, and every API request carried it (else 401).
  expect(readFileSync(calls, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(1);
  const requests = await sb.requests();
  expect(requests.filter((q: { status: number }) => q.status === 401)).toEqual([]);
  const st = await runCli(['status', ...targetArgs(t()), '--json'], { env: { ...sb.env, ...env } });
  expect(st.code).toBe(0);
  expect(JSON.parse(st.stdout)).toMatchObject({ installed: { sha256: fp(m) } });
  const rb = await runCli(['rollback', '-n', t().namespace, '--secret', t().secret, '--yes'], {
    env: { ...sb.env, ...env },
  });
  expect(rb.code).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before);
}, 90000);

test('a wrong token (401) or no credentials at all: exit 4, one line, nothing changed', async () => {
  const data = await sb.secretData(t().namespace, t().secret);
  const dir = mkdtempSync(path.join(work, 'nouser-'));
  const config = (user: string) => {
    const file = path.join(dir, `kubeconfig-${next}`);
    writeFileSync(file, readFileSync(sb.kubeconfig, 'utf8').replace(/\{ token: \S+ \}/, user), { mode: 0o600 });
    return file;
  };
  const wrong = await install({ KUBECONFIG: config('{ token: not-the-token }') });
  expect(wrong.code).toBe(4);
  expect(wrong.stderr).toMatch(/^xsoar-cert: .*\(Unauthorized\)/m);
  // No credentials: kubectl would prompt for a username; the proxy's stdin is closed, so it says so.
  const none = await install({ KUBECONFIG: config('{}') });
  expect(none.code).toBe(4);
  expect(none.stderr).toMatch(/^xsoar-cert: .*no credentials/m);
  for (const r of [wrong, none]) expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(data);
});

test('the socket folder must be private: a group-writable one is refused (exit 3) before kubectl starts', async () => {
  const state = mkdtempSync(path.join(work, 'state-'));
  mkdirSync(path.join(state, 'run'), { mode: 0o700 });
  chmodSync(path.join(state, 'run'), 0o770);
  const data = await sb.secretData(t().namespace, t().secret);
  const r = await install({ XSOAR_CERT_STATE_DIR: state, XDG_RUNTIME_DIR: '' });
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(new RegExp(`^xsoar-cert: ${path.join(state, 'run')}: .*(group|others)`, 'm'));
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(data);
});

/** kubectl proxy processes serving a socket in `dir`. */
function proxiesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`--unix-socket=${dir}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a SIGKILLed run takes its proxy along; the next run removes the socket it left', async () => {
  const state = mkdtempSync(path.join(work, 'killed-'));
  const run = path.join(state, 'run');
  const env = { ...sb.env, XSOAR_CERT_STATE_DIR: state, XDG_RUNTIME_DIR: '', NO_COLOR: '1' };
  // A slow rollout keeps the run (and its proxy) alive long enough to be killed mid-way.
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'complete', delayMs: 4000 });
  const m = certs[next++]!;
  const child = spawn(process.execPath, [BIN, ...installArgs(m, [...targetArgs(t()), '--yes', '--timeout', '20'])], {
    env,
    stdio: 'ignore',
  });
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!cond()) throw new Error(`timed out waiting for ${what}`);
  };
  await until(() => existsSync(run) && readdirSync(run).some((f) => f.endsWith('.sock')), 'the socket');
  const socket = readdirSync(run).find((f) => f.endsWith('.sock'))!;
  child.kill('SIGKILL');
  await until(() => proxiesIn(run).length === 0, 'the proxy to die with its run');
  expect(readdirSync(run)).toContain(socket);
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'complete', delayMs: 100 });
  const st = await runCli(['status', ...targetArgs(t())], { env });
  expect([0, 1]).toContain(st.code);
  expect(readdirSync(run)).toEqual([]);
  expect(proxiesIn(run)).toEqual([]);
  // The killed install is finished (or undone) by the next install, which then works.
  expect((await install({ XSOAR_CERT_STATE_DIR: state, XDG_RUNTIME_DIR: '' })).code).toBe(0);
}, 120000);

test('the proxy dying in the middle of a run is a transient fault: a new one is started and the install completes', async () => {
  const state = mkdtempSync(path.join(work, 'dies-'));
  const run = path.join(state, 'run');
  const env = { ...sb.env, XSOAR_CERT_STATE_DIR: state, XDG_RUNTIME_DIR: '', NO_COLOR: '1' };
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'complete', delayMs: 3000 });
  const m = certs[next++]!;
  const child = spawn(process.execPath, [BIN, ...installArgs(m, [...targetArgs(t()), '--yes', '--timeout', '30'])], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  // Killed while the run waits for the rollout (its watch is open on the proxy).
  for (let i = 0; i < 300 && !/Restart:/.test(stderr); i++) await new Promise((r) => setTimeout(r, 20));
  expect(stderr).toMatch(/Restart:/);
  const first = proxiesIn(run);
  expect(first).toHaveLength(1);
  process.kill(first[0]!, 'SIGKILL');
  const code = await exited;
  await sb.setRollout({ namespace: t().namespace, deployment: t().deployment, mode: 'complete', delayMs: 100 });
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const now = (await sb.servedCert(t().endpoint)).sha256;
  expect({ served: now === fp(m), stderr: now === fp(m) ? '' : stderr }).toEqual({ served: true, stderr: '' });
  expect(proxiesIn(run)).toEqual([]);
  expect(readdirSync(run)).toEqual([]);
}, 60000);
