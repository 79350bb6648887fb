// The install wizard driven through a real pseudo-terminal (tmux) as an admin would use it over
// SSH: keystrokes in, screen text out, the real kubectl against the sandbox underneath.
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { fp, mintChain, type MintedChain } from '../helpers/test-ca.js';
import { terminal, type Terminal } from '../helpers/terminal.js';

let sb: Sandbox;
let m: MintedChain;
let term: Terminal;

beforeAll(async () => {
  sb = await startSandbox({ rolloutDelayMs: 50 });
  m = await mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1', 'xsoar.xsoar.local'] });
  term = terminal();
}, 120000);
afterAll(async () => {
  term?.close();
  await sb?.stop();
});

const t = () => sb.tenants[0]!;
/** `xsoar-cert ARGS` in a terminal in the minted files' folder, the sandbox tenant as the configured target. */
function startInTerminal(args: string[]) {
  const keep = ['HOME', 'KUBECONFIG', 'KUBECACHEDIR', 'XSOAR_CERT_STATE_DIR', 'NO_COLOR'];
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(keep.map((k) => [k, sb.env[k]])),
    XSOAR_CERT_ENDPOINT: t().endpoint,
    XSOAR_CERT_NAMESPACE: t().namespace,
    XSOAR_CERT_SECRET: t().secret,
  };
  return term.start(args, { cwd: m.dir, env });
}

test('the wizard, answered with Tab-completed paths and defaults, installs and confirms the new certificate', async () => {
  const before = (await sb.servedCert(t().endpoint)).sha256;
  const w = startInTerminal([]); // no arguments on a terminal: the wizard
  await w.waitFor(/Certificate file/);
  w.type('leaf.');
  await w.waitFor(/leaf\.pem/);
  w.keys('Tab'); // completes leaf. -> leaf.pem
  await w.waitFor(/Certificate file.*leaf\.pem/);
  w.keys('Enter');
  await w.waitFor(
    /found in leaf\.pem: leaf CN=localhost; names localhost, xsoar\.xsoar\.local, 127\.0\.0\.1; expires \d{4}-\d\d-\d\d \(\d+ days\)/,
  );
  await w.waitFor(/Private key file/);
  w.type('leaf-key.pem');
  await w.waitFor(/❯ leaf-key\.pem|> leaf-key\.pem/);
  w.keys('Enter');
  await w.waitFor(/a private key, matching/);
  await w.waitFor(/Intermediate certificate file/);
  w.type('chain.pem');
  await w.waitFor(/[❯>] chain\.pem/);
  w.keys('Enter');
  await w.waitFor(/found in chain\.pem: intermediate CA CN=Test Intermediate 1/);
  await w.waitFor(/Another intermediate file/);
  await w.waitFor(/\(no more\)/);
  w.keys('Enter'); // the first choice: no more
  await w.waitFor(/Root CA file/);
  w.type('root.pem');
  await w.waitFor(/[❯>] root\.pem/);
  w.keys('Enter');
  await w.waitFor(/Names the tenant is reached by/);
  w.keys('Enter'); // default: the leaf's names
  const checks = await w.waitFor(/Tenant namespace/);
  expect(checks).toMatch(/TLS 1\.2/);
  expect(checks).toMatch(/OK: fit to serve/);
  w.keys('Enter');
  await w.waitFor(/TLS secret/);
  w.keys('Enter');
  await w.waitFor(/Endpoint to confirm/);
  w.keys('Enter');
  const plan = await w.waitFor(/Proceed\?/);
  expect(plan).toMatch(
    /The same without questions: xsoar-cert install --cert leaf\.pem --key leaf-key\.pem --chain chain\.pem --ca root\.pem --host localhost/,
  );
  expect(plan).toMatch(/1\. keep the current secret as/);
  expect(plan).toContain(t().endpoint);
  w.type('y');
  w.keys('Enter');
  expect(await w.exitCode()).toBe(0);
  const after = (await sb.servedCert(t().endpoint)).sha256;
  expect(after).not.toBe(before);
  expect(after).toBe(fp(m));
  expect(w.screen()).toMatch(/confirmed it is served/);
}, 120000);

test('Ctrl-C at the first question exits 130 with nothing changed', async () => {
  const before = await sb.state();
  const w = startInTerminal(['install', '--interactive']);
  await w.waitFor(/Certificate file/);
  w.keys('C-c');
  expect(await w.exitCode()).toBe(130);
  expect(w.screen()).toMatch(/Cancelled: nothing was changed/);
  expect(w.screen()).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
}, 60000);

test('Ctrl-C at the final confirmation, after every check and the cluster preflight, changes nothing', async () => {
  const beforeData = await sb.secretData(t().namespace, t().secret);
  const before = await sb.state();
  const w = startInTerminal([
    'install',
    '--interactive',
    '--cert',
    'leaf.pem',
    '--key',
    'leaf-key.pem',
    '--chain',
    'chain.pem',
    '--ca',
    'root.pem',
    '--host',
    'localhost',
  ]);
  await w.waitFor(/Tenant namespace/);
  w.keys('Enter');
  await w.waitFor(/TLS secret/);
  w.keys('Enter');
  await w.waitFor(/Endpoint to confirm/);
  w.keys('Enter');
  await w.waitFor(/Proceed\?/);
  w.keys('C-c');
  expect(await w.exitCode()).toBe(130);
  expect(w.screen()).toMatch(/Cancelled: nothing was changed/);
  expect(await sb.secretData(t().namespace, t().secret)).toEqual(beforeData);
  expect((await sb.state()).resourceVersion).toBe(before.resourceVersion);
}, 60000);

test('a certificate that drops an installed name: the wizard says which, asks, and installs only on yes', async () => {
  const narrow = await mintChain({
    intermediates: 1,
    hosts: ['localhost', '127.0.0.1'],
    dir: path.join(m.dir, 'narrow'),
  });
  const before = (await sb.servedCert(t().endpoint)).sha256;
  const w = startInTerminal([
    'install',
    '--interactive',
    '--cert',
    'narrow/leaf.pem',
    '--key',
    'narrow/leaf-key.pem',
    '--chain',
    'narrow/chain.pem',
    '--ca',
    'narrow/root.pem',
    '--host',
    'localhost',
  ]);
  await w.waitFor(/Tenant namespace/);
  w.keys('Enter');
  // The namespace's TLS secrets to choose from, the configured one first, earlier versions left out.
  const choose = await w.waitFor(/TLS secret in xsoar:[\s\S]*\(another name\)/);
  expect(choose).toMatch(/❯ xsoar-tls\n/);
  expect(choose).not.toMatch(/xsoar-tls-prev-/);
  w.keys('Enter');
  await w.waitFor(/Endpoint to confirm/);
  w.keys('Enter');
  const asked = await w.waitFor(/Install anyway \(--allow-name-change\)\?/);
  expect(asked).toMatch(/does not cover xsoar\.xsoar\.local, which the installed certificate covers/);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(before); // nothing changed while it asks
  w.type('y');
  w.keys('Enter');
  await w.waitFor(/Proceed\?/);
  w.type('y');
  w.keys('Enter');
  expect(await w.exitCode()).toBe(0);
  expect((await sb.servedCert(t().endpoint)).sha256).toBe(fp(narrow));
}, 90000);

test('no certificate yet: the wizard makes a certificate request; the signed certificate then completes it without a key question', async () => {
  const w = startInTerminal([]);
  await w.waitFor(/Certificate file/);
  await w.waitFor(/none yet: make a certificate request/);
  w.keys('Enter'); // the first choice: none yet
  await w.waitFor(/Names the certificate must cover/);
  w.type('localhost,127.0.0.1');
  w.keys('Enter');
  await w.waitFor(/More of the subject/);
  w.keys('Enter');
  const screen = await w.waitFor(/the key is kept as pending request (\d+)/);
  expect(await w.exitCode()).toBe(0);
  const id = /pending request (\d+)/.exec(screen)![1];
  // The PKI team signs it; the wizard, given the signed certificate, finds the key here.
  const { execFileSync } = await import('node:child_process');
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      path.join(m.dir, 'localhost.csr'),
      '-CA',
      m.files.root,
      '-CAkey',
      m.files.rootKey,
      '-CAcreateserial',
      '-days',
      '90',
      '-copy_extensions',
      'copy',
      '-out',
      path.join(m.dir, 'signed.crt'),
    ],
    { stdio: 'ignore' },
  );
  const w2 = startInTerminal([]);
  await w2.waitFor(new RegExp(`Pending certificate request.*${id} for localhost, 127\\.0\\.0\\.1`));
  await w2.waitFor(/Certificate file/);
  w2.type('signed.crt');
  await w2.waitFor(/[❯>] signed\.crt/);
  w2.keys('Enter');
  await w2.waitFor(new RegExp(`the private key: pending request ${id}`));
  await w2.waitFor(/Intermediate certificate file/);
  w2.keys('C-c');
  expect(await w2.exitCode()).toBe(130);
});
