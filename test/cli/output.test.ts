// Output conventions across commands: colours only when asked for by a terminal (or FORCE_COLOR)
// and never with NO_COLOR; --quiet keeps only results; --json prints exactly one JSON document.
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

let m: MintedChain;
beforeAll(async () => {
  m = await mintChain({ intermediates: 1, hosts: ['localhost'] });
});
const ESC = /\x1b\[/;
const verifyArgs = (extra: string[] = []) => [
  'verify',
  '--cert',
  m.files.leaf,
  '--chain',
  m.files.chain,
  '--key',
  m.files.key,
  '--ca',
  m.files.root,
  '--host',
  ...extra,
];

test('piped output has no colour codes; FORCE_COLOR adds them; NO_COLOR wins over FORCE_COLOR', async () => {
  const plain = await runCli(verifyArgs(['wrong.example']), { env: { NO_COLOR: '' } });
  expect(plain.code).toBe(1);
  expect(plain.stderr + plain.stdout).not.toMatch(ESC);
  const forced = await runCli(verifyArgs(['wrong.example']), { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
  expect(forced.stderr).toMatch(ESC);
  const both = await runCli(verifyArgs(['wrong.example']), { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
  expect(both.stderr + both.stdout).not.toMatch(ESC);
});

test('--quiet: verify prints only failures, chain no commentary', async () => {
  const ok = await runCli([...verifyArgs(['localhost']), '--quiet']);
  expect(ok.code).toBe(0);
  expect(ok.stderr).toBe('');
  const bad = await runCli([...verifyArgs(['wrong.example']), '--quiet']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/wrong\.example/);
  expect(bad.stderr).not.toMatch(/✓/);
  const chain = await runCli(['chain', m.files.root, m.files.leaf, m.files.chain, '--quiet']);
  expect(chain.code).toBe(0);
  expect(chain.stderr).toBe('');
  expect(chain.stdout.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(3);
});

test('--json: stdout is exactly one JSON document, for success and for failure, with no key material', async () => {
  for (const host of ['localhost', 'wrong.example']) {
    const r = await runCli([...verifyArgs([host]), '--json']);
    const doc = JSON.parse(r.stdout); // throws on anything but one document
    expect(doc.ok).toBe(host === 'localhost');
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
  }
  const missing = await runCli(['inspect', 'no-such.pem', '--json']);
  expect(missing.code).toBe(3);
  expect(JSON.parse(missing.stdout)).toEqual({
    ok: false,
    error: { message: 'no-such.pem: no such file', hint: expect.any(String), exitCode: 3 },
  });
});
