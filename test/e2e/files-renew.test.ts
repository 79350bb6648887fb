// renew --files against a real nginx (Debian's nginx-light): the installed certificate is read from
// the files, the renewal policy decides (due in the last third of its lifetime), the source's
// certificate goes in through the files target's transaction and nginx serves it; a run when
// nothing is due changes nothing.
import { copyFileSync, lstatSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fp, mintChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';
import { filesPairMatch, servedAfterReload, startNginx, type Nginx } from '../helpers/nginx.js';

const DAY = 86_400_000;
let ngx: Nginx;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  // Issued 80 days ago for 90: in the last third of its lifetime, so due.
  const aged = await mintChain({ intermediates: 0, leaf: { notBefore: new Date(Date.now() - 80 * DAY), days: 90 } });
  ngx = await startNginx(aged.leaf.certPem, aged.leaf.keyPem);
  dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-files-renew-'));
  env = { XSOAR_CERT_STATE_DIR: path.join(dir, 'state'), XSOAR_CERT_CONFIG: path.join(dir, 'none.json') };
}, 60000);
afterAll(() => ngx?.stop());

const renew = (extra: string[]) =>
  runCli(
    [
      'renew',
      '--files',
      `${ngx.cert},${ngx.key}`,
      '--restart-cmd',
      ngx.reload,
      '--endpoint',
      ngx.endpoint,
      '--host',
      'localhost',
      ...extra,
    ],
    { env },
  );

const onDisk = () => fp(readFileSync(ngx.cert));
const served = (expected?: string) => servedAfterReload(ngx, expected);
const pairMatches = () => filesPairMatch(ngx);

test('a due certificate is renewed from the drop folder and served; the next run is not due and changes nothing', async () => {
  const fresh = await mintChain({ intermediates: 0, leaf: { days: 90 } });
  const drop = mkdtempSync(path.join(dir, 'drop-'));
  copyFileSync(fresh.files.leaf, path.join(drop, 'new.pem'));
  copyFileSync(fresh.files.key, path.join(drop, 'new-key.pem'));
  const r = await renew(['--from', drop, '--ca', fresh.files.root]);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/due: /);
  expect(r.stdout).toMatch(/^renewed .*cert\.pem, .*cert\.key from .*new\.pem: [0-9A-F:]+, confirmed served$/m);
  expect(onDisk()).toBe(fp(fresh));
  expect(await served(fp(fresh))).toBe(fp(fresh));
  expect(pairMatches()).toBe(true);
  expect(lstatSync(ngx.key).mode & 0o777).toBe(0o600);

  const certBytes = readFileSync(ngx.cert);
  const keyBytes = readFileSync(ngx.key);
  const again = await renew(['--self-signed']);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/^nothing to do: .*cert\.pem, .*cert\.key expires in \d+ days; due from/m);
  expect(readFileSync(ngx.cert).equals(certBytes)).toBe(true);
  expect(readFileSync(ngx.key).equals(keyBytes)).toBe(true);
  expect(await served(fp(fresh))).toBe(fp(fresh));
});

test('renew --files --self-signed --force replaces the served certificate; status and audit -n files agree', async () => {
  const before = onDisk();
  const r = await renew(['--self-signed', '--force', '--json']);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out).toMatchObject({ ok: true, action: 'renewed', from: 'self-signed' });
  expect(JSON.stringify(out)).not.toMatch(/PRIVATE KEY/);
  const now = onDisk();
  expect(now).not.toBe(before);
  expect(out.transaction.newFingerprint).toBe(now);
  expect(await served(now)).toBe(now);
  expect(pairMatches()).toBe(true);
  const s = await runCli(['status', '--files', `${ngx.cert},${ngx.key}`, '--endpoint', ngx.endpoint, '--json'], {
    env,
  });
  expect(s.code).toBe(0);
  expect(JSON.parse(s.stdout)).toMatchObject({ agree: true, installed: { fingerprint: now } });
  const audit = JSON.parse((await runCli(['audit', '-n', 'files', '--op', 'renew', '--json'], { env })).stdout);
  expect(audit.map((a: { result: string; newFingerprint: string }) => [a.result, a.newFingerprint])).toEqual(
    expect.arrayContaining([
      ['installed', now],
      ['installed', before],
    ]),
  );
});

test('renew --files refuses fleet flags and --preset xsoar8 in one line (exit 2)', async () => {
  const r = await renew(['--self-signed', '-n', 'xsoar']);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/renew --files renews one set of files/);
  const p = await runCli(['renew', '--self-signed', '--preset', 'xsoar8'], { env });
  expect(p.code).toBe(2);
  expect(p.stderr).toMatch(/--preset xsoar8/);
});
