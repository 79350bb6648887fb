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
});
