// The install wizard driven through a real pseudo-terminal (tmux) as an admin would use it over
// SSH: keystrokes in, screen text out, the real kubectl against the sandbox underneath.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { BIN } from '../helpers/run-cli.js';

const SOCKET = `xsoar-cert-wizard-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
let sb: Sandbox;
let m: MintedChain;
let run = 0;

beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
  m = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1', 'xsoar.xsoar.local'] });
}, 120000);
afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    /* no server left */
  }
  await sb?.stop();
});

const t = () => sb.tenants[0]!;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Starts `xsoar-cert ARGS` in a fresh 160x50 terminal in the minted files' folder; returns its window name. */
function startInTerminal(args: string[]): { name: string; exitFile: string } {
  const name = `w${++run}`;
  const exitFile = path.join(m.dir, `${name}.exit`);
  const env: NodeJS.ProcessEnv = { ...sb.env, XSOAR_CERT_ENDPOINT: t().endpoint, XSOAR_CERT_NAMESPACE: t().namespace, XSOAR_CERT_SECRET: t().secret, TERM: 'xterm-256color' };
  const script = path.join(m.dir, `${name}.sh`);
  const keep = ['PATH', 'HOME', 'KUBECONFIG', 'KUBECACHEDIR', 'XSOAR_CERT_STATE_DIR', 'NO_COLOR', 'XSOAR_CERT_ENDPOINT', 'XSOAR_CERT_NAMESPACE', 'XSOAR_CERT_SECRET', 'TERM'];
  writeFileSync(
    script,
    [...keep.filter((k) => env[k] !== undefined).map((k) => `export ${k}=${q(env[k]!)}`), `cd ${q(m.dir)}`, `${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')}`, `echo $? > ${q(exitFile)}`, 'sleep 600'].join('\n'),
  );
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', `bash ${q(script)}`);
  return { name, exitFile };
}

const screen = (name: string) => tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', name);

async function waitFor(name: string, re: RegExp, timeoutMs = 30000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = screen(name);
    if (re.test(s)) return s;
    if (Date.now() > until) throw new Error(`timed out waiting for ${re} on the terminal:\n${s}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function exitCode(w: { name: string; exitFile: string }): Promise<number> {
  const { readFileSync, existsSync } = await import('node:fs');
  const until = Date.now() + 60000;
  while (!existsSync(w.exitFile) || readFileSync(w.exitFile, 'utf8').trim() === '') {
    if (Date.now() > until) throw new Error(`no exit; the terminal shows:\n${screen(w.name)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Number(readFileSync(w.exitFile, 'utf8').trim());
}

const keys = (name: string, ...k: string[]) => tmux('send-keys', '-t', name, ...k);
const type = (name: string, text: string) => tmux('send-keys', '-t', name, '-l', text);

test('the wizard, answered with Tab-completed paths and defaults, installs and confirms the new certificate', async () => {
  const before = (await sb.servedCert(t().endpoint)).sha256;
  const w = startInTerminal([]); // no arguments on a terminal: the wizard
  await waitFor(w.name, /Certificate file/);
  type(w.name, 'leaf.');
  await waitFor(w.name, /leaf\.pem/);
  keys(w.name, 'Tab'); // completes leaf. -> leaf.pem
  await waitFor(w.name, /Certificate file.*leaf\.pem/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /found in leaf\.pem: .*localhost/);
  await waitFor(w.name, /Private key file/);
  type(w.name, 'leaf-key.pem');
  await waitFor(w.name, /❯ leaf-key\.pem|> leaf-key\.pem/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /a private key, matching/);
  await waitFor(w.name, /Intermediate certificate file/);
  type(w.name, 'chain.pem');
  await waitFor(w.name, /[❯>] chain\.pem/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /Another intermediate file/);
  await waitFor(w.name, /\(no more\)/);
  keys(w.name, 'Enter'); // the first choice: no more
  await waitFor(w.name, /Root CA file/);
  type(w.name, 'root.pem');
  await waitFor(w.name, /[❯>] root\.pem/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /Names the tenant is reached by/);
  keys(w.name, 'Enter'); // default: the leaf's names
  const checks = await waitFor(w.name, /Tenant namespace/);
  expect(checks).toMatch(/TLS 1\.2/);
  expect(checks).toMatch(/OK: fit to serve/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /TLS secret/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /Endpoint to confirm/);
  keys(w.name, 'Enter');
  const plan = await waitFor(w.name, /Proceed\?/);
  expect(plan).toMatch(/The same without questions: xsoar-cert install --cert leaf\.pem --key leaf-key\.pem --chain chain\.pem --ca root\.pem --host localhost/);
  expect(plan).toMatch(/1\. keep the current secret as/);
  expect(plan).toContain(t().endpoint);
  type(w.name, 'y');
  keys(w.name, 'Enter');
  expect(await exitCode(w)).toBe(0);
  const after = (await sb.servedCert(t().endpoint)).sha256;
  expect(after).not.toBe(before);
  expect(after).toBe(new X509Certificate(m.leaf.certPem).fingerprint256);
  expect(screen(w.name)).toMatch(/confirmed it is served/);
}, 120000);

test('Ctrl-C at the first question exits 130 with nothing changed', async () => {
  const before = await sb.state();
  const w = startInTerminal(['install', '--interactive']);
  await waitFor(w.name, /Certificate file/);
  keys(w.name, 'C-c');
  expect(await exitCode(w)).toBe(130);
  expect(screen(w.name)).toMatch(/Cancelled: nothing was changed/);
  expect(screen(w.name)).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
}, 60000);

test('Ctrl-C at the final confirmation, after every check and the cluster preflight, changes nothing', async () => {
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const before = await sb.state();
  const w = startInTerminal(['install', '--interactive', '--cert', 'leaf.pem', '--key', 'leaf-key.pem', '--chain', 'chain.pem', '--ca', 'root.pem', '--host', 'localhost']);
  await waitFor(w.name, /Tenant namespace/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /TLS secret/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /Endpoint to confirm/);
  keys(w.name, 'Enter');
  await waitFor(w.name, /Proceed\?/);
  keys(w.name, 'C-c');
  expect(await exitCode(w)).toBe(130);
  expect(screen(w.name)).toMatch(/Cancelled: nothing was changed/);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(beforeData);
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
}, 60000);

test('a certificate that drops an installed name: the wizard says which, asks, and installs only on yes', async () => {
  const narrow = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'], dir: path.join(m.dir, 'narrow') });
  const before = (await sb.servedCert(t().endpoint)).sha256;
  const w = startInTerminal(['install', '--interactive', '--cert', 'narrow/leaf.pem', '--key', 'narrow/leaf-key.pem', '--chain', 'narrow/chain.pem', '--ca', 'narrow/root.pem', '--host', 'localhost']);
  for (const q of [/Tenant namespace/, /TLS secret/, /Endpoint to confirm/]) {
    await waitFor(w.name, q);
    keys(w.name, 'Enter');
  }
  const asked = await waitFor(w.name, /Install anyway \(--allow-name-change\)\?/);
  expect(asked).toMatch(/does not cover xsoar\.xsoar\.local, which the installed certificate covers/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before); // nothing changed while it asks
  type(w.name, 'y');
  keys(w.name, 'Enter');
  await waitFor(w.name, /Proceed\?/);
  type(w.name, 'y');
  keys(w.name, 'Enter');
  expect(await exitCode(w)).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(new X509Certificate(narrow.leaf.certPem).fingerprint256);
}, 90000);
