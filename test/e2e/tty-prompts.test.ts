// Prompts on a real terminal (tmux): the passphrase of an encrypted PKCS#12 or key is asked for,
// masked, never echoed; a wrong one is a one-line error (exit 3); Ctrl-C at it exits 130.
import { execFileSync } from 'node:child_process';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { terminal, type Terminal } from '../helpers/terminal.js';

let m: MintedChain;
let term: Terminal;
const PASS = 'S3cret-pass-phrase';
beforeAll(async () => {
  m = await mintChain({ intermediates: 1, hosts: ['localhost'] });
  execFileSync(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      'leaf.pem',
      '-inkey',
      'leaf-key.pem',
      '-certfile',
      'chain.pem',
      '-out',
      't.p12',
      '-passout',
      `pass:${PASS}`,
    ],
    { cwd: m.dir },
  );
  term = terminal();
});
afterAll(() => term?.close());
const start = (args: string[]) => term.start(args, { cwd: m.dir, env: { HOME: m.dir, NO_COLOR: '1' } });

test('an encrypted PKCS#12 on a terminal: the passphrase is asked for, masked, and the file is read', async () => {
  const w = start(['inspect', 't.p12']);
  await w.waitFor(/Passphrase for t\.p12/);
  w.type(PASS);
  await w.waitFor(/\*{6,}/); // masked as it is typed
  w.keys('Enter');
  expect(await w.exitCode()).toBe(0);
  const s = w.screen();
  expect(s).toMatch(/t\.p12 #1: CN=localhost/);
  expect(s).toMatch(/private key .* matches CN=localhost/);
  expect(s).not.toContain(PASS);
});

test('a wrong passphrase: one line naming the file, exit 3, no stack', async () => {
  const w = start(['inspect', 't.p12']);
  await w.waitFor(/Passphrase for t\.p12/);
  w.type('wrong');
  w.keys('Enter');
  expect(await w.exitCode()).toBe(3);
  expect(w.screen()).toMatch(/xsoar-cert: t\.p12: .*passphrase/i);
  expect(w.screen()).not.toMatch(/\n\s+at /);
});

test('Ctrl-C at the passphrase prompt exits 130', async () => {
  const w = start(['inspect', 't.p12']);
  await w.waitFor(/Passphrase for t\.p12/);
  w.keys('C-c');
  expect(await w.exitCode()).toBe(130);
  expect(w.screen()).toMatch(/Cancelled/);
});
