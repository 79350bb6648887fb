// The README's nsupdate hook, run as written (with a stand-in nsupdate on PATH): what it receives
// reaches nsupdate's command stream, so a name or value holding a newline, a quote or a space
// must stop it before nsupdate runs.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../../helpers/run-cli.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const hookText = /For example, with nsupdate[^`]*```sh\n([\s\S]*?)```/.exec(readme)![1]!.replace(/^ {2}/gm, '');
const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-readme-hook-'));
const hook = path.join(dir, 'hook.sh');
const got = path.join(dir, 'nsupdate.in');
writeFileSync(hook, hookText);
writeFileSync(path.join(dir, 'nsupdate'), `#!/bin/sh\ncat > '${got}'\n`);
chmodSync(path.join(dir, 'nsupdate'), 0o755);

const value = 'A'.repeat(20) + '_-' + 'b'.repeat(21);
function run(name: string, v = value, action = 'add') {
  if (existsSync(got)) writeFileSync(got, '');
  const r = spawnSync('/bin/sh', [hook, action], {
    env: { PATH: `${dir}:/usr/bin:/bin`, XSOAR_CERT_DNS_NAME: name, XSOAR_CERT_DNS_VALUE: v },
    encoding: 'utf8',
  });
  return { code: r.status, nsupdate: existsSync(got) ? readFileSync(got, 'utf8') : '' };
}

test('finding 3: the README hook example publishes a plain name and value', () => {
  expect(run('_acme-challenge.tenant1.example.com')).toEqual({
    code: 0,
    nsupdate: `server ns1.example.com\nupdate add _acme-challenge.tenant1.example.com. 60 TXT "${value}"\nsend\n`,
  });
  expect(run('_acme-challenge.tenant1.example.com', value, 'remove').nsupdate).toContain(
    'update delete _acme-challenge.tenant1.example.com. TXT',
  );
});

test('finding 3: the README hook example refuses a newline, quotes, spaces or another prefix before nsupdate runs', () => {
  for (const name of [
    '_acme-challenge.a.example.com\nupdate add evil.example.com. 60 TXT x',
    '_acme-challenge.a.example.com\n',
    '_acme-challenge.a"b.example.com',
    '_acme-challenge.a example.com',
    'evil.example.com',
    '_acme-challenge.',
    '_acme-challenge.-a.example.com',
  ]) {
    expect(run(name)).toEqual({ code: 1, nsupdate: '' });
  }
  for (const v of [`${value}\nsend`, `${value.slice(1)}"`, 'short', ''])
    expect(run('_acme-challenge.a.example.com', v)).toEqual({ code: 1, nsupdate: '' });
});
