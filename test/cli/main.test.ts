import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, ROOT } from '../helpers/run-cli.js';

describe('xsoar-cert entry point', () => {
  test('--version prints the package.json version and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  test('an unknown option is a usage error (exit 2) with no stack trace', async () => {
    const r = await runCli(['--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('--help lists every exit code', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const code of ['0', '1', '2', '3', '4', '5', '6', '7', '8', '70', '130']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${code}\\s+\\S`, 'm'));
    }
  });

  test('an unknown command names itself and the nearest command (exit 2)', async () => {
    const r = await runCli(['instal', '--cert', 'x.pem']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "instal" \(did you mean "install"\?\)/);
    const far = await runCli(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/unknown command "frobnicate"\n/);
  });

  test("help COMMAND prints that command's help (exit 0); help alone the overview; help of an unknown word exits 2", async () => {
    const r = await runCli(['help', 'install']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: xsoar-cert install \[options\]/);
    const all = await runCli(['help']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^Commands:/m);
    const bad = await runCli(['help', 'instal']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/did you mean "install"/);
  });

  test('no command without a terminal: the help and a usage error, never a prompt', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Commands:/);
    expect(r.stderr).toMatch(/no command given/);
  });

  test('install --interactive without a terminal says which flags to give instead (exit 2)', async () => {
    const r = await runCli(['install', '--interactive']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the install wizard needs a terminal/);
    expect(r.stderr).toMatch(/--cert FILE --key FILE/);
  });

  // Every command's --help carries examples and the exit codes (issue 5).
  const commands = [
    'generate',
    'chain',
    'verify',
    'inspect',
    'install',
    'rollback',
    'status',
    'audit',
    'renew',
    'probe',
    'export',
    'completion',
  ];
  test.each(commands)('%s --help has EXAMPLES and EXIT CODES', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^EXAMPLES\n(  [$#] .+\n)+/m);
    expect(r.stdout).toMatch(new RegExp(`^  \\$ .*xsoar-cert ${cmd}\\b`, 'm'));
    expect(r.stdout).toMatch(/^EXIT CODES\n/m);
    expect(r.stdout).toMatch(/^  130\s+\S/m);
  });
});
