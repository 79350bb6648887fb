// Issue 18, item 7: an accepted policy lint, on record. A 5-year certificate from an internal CA
// fails lint.lifetime (Apple clients refuse over 825 days); an admin whose clients are known accepts
// it by id, and the acceptance is printed and audited. A chain, key or name check is never acceptable.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSandbox, type Sandbox } from '../helpers/sandbox.js';
import { mintChain, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';

let sb: Sandbox;
let five: MintedChain;
beforeAll(async () => {
  [sb, five] = await Promise.all([
    startSandbox({ rolloutDelayMs: 20, inlinePods: true }),
    mintChain({ intermediates: 1, hosts: ['localhost', '127.0.0.1'], leaf: { days: 5 * 365 } }),
  ]);
}, 60000);
afterAll(async () => sb?.stop());

const t = () => sb.tenants[0]!;
const files = () => [
  '--cert',
  five.files.leaf,
  '--chain',
  five.files.chain,
  '--key',
  five.files.key,
  '--ca',
  five.files.root,
];
const install = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(
    [
      'install',
      ...files(),
      '--host',
      'localhost',
      '-n',
      t().namespace,
      '--secret',
      t().secret,
      '--endpoint',
      t().endpoint,
    ].concat(['--yes', '--allow-name-change', ...extra]),
    { env: { ...sb.env, ...env } },
  );

test('without --accept the 5-year certificate is refused by lint.lifetime, and nothing changes', async () => {
  const r = await install([]);
  expect(r.code).toBe(1);
  expect(r.stderr + r.stdout).toMatch(/valid for 18\d\d days; Apple clients .* refuse/);
});

test('--accept lint.lifetime installs it; the acceptance is printed and in the audit record', async () => {
  const state = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-state-'));
  const r = await install(['--accept', 'lint.lifetime'], { XSOAR_CERT_STATE_DIR: state });
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  expect(r.stdout + r.stderr).toMatch(/accepted \(--accept lint\.lifetime\): .*valid for 18\d\d days/);
  const audit = JSON.parse(
    (await runCli(['audit', '--json'], { env: { ...sb.env, XSOAR_CERT_STATE_DIR: state } })).stdout,
  );
  expect(audit.at(-1)).toMatchObject({ result: 'installed', accepted: ['lint.lifetime'] });
});

test('the settings file can carry the acceptance; a chain, key or name check cannot be accepted (exit 2 / 3)', async () => {
  const cfg = path.join(sb.dir, 'accept.json');
  writeFileSync(cfg, JSON.stringify({ accept: ['lint.lifetime'] }));
  const r = await runCli(['verify', ...files(), '--host', 'localhost', '--no-tls'], {
    env: { ...sb.env, XSOAR_CERT_CONFIG: cfg },
  });
  expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
  const bad = await install(['--accept', 'chain.trust']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(
    /--accept chain\.trust: only policy lints can be accepted \(lint\.lifetime, .*\), never a chain, key or name check/,
  );
  writeFileSync(cfg, JSON.stringify({ accept: ['key-match'] }));
  const badFile = await runCli(['verify', ...files(), '--no-tls'], { env: { ...sb.env, XSOAR_CERT_CONFIG: cfg } });
  expect(badFile.code).toBe(3);
  expect(badFile.stderr).toMatch(/accept\.json: "accept" names key-match: only policy lints can be accepted/);
});
