import { spawnSync } from 'node:child_process';
import { runCli } from '../helpers/run-cli.js';

/** Source the script in a real bash and ask it to complete `words`. */
function complete(script: string, words: string[], cwd?: string): string[] {
  const line = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _xsoar_cert; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', line], { encoding: 'utf8', cwd });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash completion: commands, the flags of the command at hand, files after --cert', async () => {
  const r = await runCli(['completion', 'bash']);
  expect(r.code).toBe(0);
  expect(complete(r.stdout, ['xsoar-cert', 'in'])).toEqual(['inspect', 'install']);
  expect(complete(r.stdout, ['xsoar-cert', 'install', '--dr'])).toEqual(['--dry-run']);
  expect(complete(r.stdout, ['xsoar-cert', 'verify', '--pass'])).toEqual(['--passphrase-file']);
  expect(complete(r.stdout, ['xsoar-cert', 'renew', '--print-'])).toEqual(['--print-cron', '--print-systemd']);
  expect(complete(r.stdout, ['xsoar-cert', 'verify', '--cert', 'pack'], process.cwd()).sort()).toEqual([
    'package-lock.json',
    'package.json',
  ]);
});

test('zsh completion is the bash one behind bashcompinit; other shells are a usage error', async () => {
  const z = await runCli(['completion', 'zsh']);
  expect(z.stdout.startsWith('#compdef xsoar-cert')).toBe(true);
  expect(z.stdout).toContain('bashcompinit');
  const which = spawnSync('sh', ['-c', 'command -v zsh'], { encoding: 'utf8' });
  if (which.status === 0) expect(spawnSync('zsh', ['-n'], { input: z.stdout }).status).toBe(0);
  expect((await runCli(['completion', 'fish'])).code).toBe(2);
});
