// The source systems' recipes: --preset xsoar6 on a fake /usr/local/demisto tree (its paths from a
// demisto.conf given by XSOAR_CERT_DEMISTO_CONF), nginx standing in for the server; --preset xsoar8
// refusing a certificate without ext-xsoar.<domain>; export --palette's files decode back to the
// PEM, 0600 in a 0700 folder, and a certificate dropping the previous address is refused.
import { lstatSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mintChain, fp, type MintedChain } from '../helpers/test-ca.js';
import { runCli } from '../helpers/run-cli.js';
import { servedAfterReload, startNginx, type Nginx } from '../helpers/nginx.js';

let ngx: Nginx;
let old: MintedChain;
let env: NodeJS.ProcessEnv;
const tmp = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-recipes-'));

beforeAll(async () => {
  old = await mintChain();
  ngx = await startNginx(old.leaf.certPem + old.intermediates[0]!.certPem + old.root.certPem, old.leaf.keyPem);
  const conf = path.join(tmp, 'demisto.conf');
  writeFileSync(
    conf,
    JSON.stringify({ Server: { HttpsPort: '443' }, Security: { CertFile: ngx.cert, KeyFile: ngx.key } }),
  );
  env = { XSOAR_CERT_STATE_DIR: path.join(tmp, 'state'), XSOAR_CERT_DEMISTO_CONF: conf };
}, 60000);
afterAll(() => ngx?.stop());

const served = (expected: string) => servedAfterReload(ngx, expected);

const certArgs = (m: MintedChain) => ['--cert', m.files.leaf, '--chain', m.files.chain, '--key', m.files.key];

test('--preset xsoar6: demisto.conf paths, chain leaf → intermediate → CA, owner and modes as asked', async () => {
  const m = await mintChain();
  // demisto:demisto does not exist on a test host: the owner is given (flags beat the preset), and nginx stands in.
  const r = await runCli(
    [
      'install',
      ...certArgs(m),
      '--ca',
      m.files.root,
      '--host',
      'localhost',
      '--preset',
      'xsoar6',
      '--owner',
      'daemon:daemon',
      '--restart-cmd',
      ngx.reload,
      '--endpoint',
      ngx.endpoint,
      '--allow-name-change',
      '--yes',
    ],
    { env },
  );
  expect(r.stderr).toMatch(/Target: .*tls\/cert\.pem, .*tls\/cert\.key/);
  expect(r.code).toBe(0);
  expect(readFileSync(ngx.cert, 'utf8')).toBe(m.leaf.certPem + m.intermediates[0]!.certPem + m.root.certPem);
  expect(readFileSync(ngx.cert, 'utf8')).not.toMatch(/BEGIN (?!CERTIFICATE)/);
  const daemon = { uid: 1, gid: 1 };
  for (const [file, mode] of [
    [ngx.cert, 0o640],
    [ngx.key, 0o600],
  ] as const) {
    const st = lstatSync(file);
    expect({ file, uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ file, ...daemon, mode });
  }
  expect(await served(fp(m))).toBe(fp(m));
  // rollback --preset xsoar6: the kept files back byte for byte with their own owner and mode, reloaded, served.
  const rb = await runCli(
    ['rollback', '--preset', 'xsoar6', '--restart-cmd', ngx.reload, '--endpoint', ngx.endpoint, '--yes'],
    {
      env,
    },
  );
  expect(rb.code).toBe(0);
  expect(rb.stdout).toMatch(
    /^Restored files-[0-9a-f]{12}-prev-\d{14}-[0-9a-f]{4}: the files now hold .*, confirmed served/,
  );
  expect(readFileSync(ngx.cert, 'utf8')).toBe(old.leaf.certPem + old.intermediates[0]!.certPem + old.root.certPem);
  expect(lstatSync(ngx.key).uid).toBe(0);
  expect(await served(fp(old))).toBe(fp(old));
  // Without --owner the preset's demisto:demisto is looked up: on a host without that user, one line, exit 3.
  const again = await runCli(['install', ...certArgs(m), '--ca', m.files.root, '--preset', 'xsoar6', '--yes'], { env });
  expect(again.stderr).toMatch(/--owner: user "demisto" not found in \/etc\/passwd/);
  expect(again.code).toBe(3);
}, 60000);

test('--preset xsoar8 refuses a certificate without ext-xsoar.<domain>, naming it, before anything changes', async () => {
  const m = await mintChain({ hosts: ['xsoar.example.com', 'api-xsoar.example.com'] });
  const r = await runCli(
    ['install', ...certArgs(m), '--ca', m.files.root, '--preset', 'xsoar8', '--domain', 'example.com', '--yes'],
    { env: { ...env, KUBECONFIG: path.join(tmp, 'no-kubeconfig') } },
  );
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/does not cover ext-xsoar\.example\.com: an XSOAR 8 tenant answers on/);
  expect(r.stderr).not.toMatch(/Backup|Apply/);
}, 60000);

test('export --palette: three base64 files that decode to the PEM, 0600 in a 0700 folder; the previous name kept', async () => {
  const m = await mintChain({ hosts: ['vertex.example.com', '10.0.0.9'] });
  const out = path.join(tmp, 'palette');
  const args = ['export', '--palette', '--out-dir', out, ...certArgs(m), '--ca', m.files.root];
  const r = await runCli([...args, '--address', 'vertex.example.com', '--previous-address', '10.0.0.9']);
  expect(r.code).toBe(0);
  const decoded = (n: string) => Buffer.from(readFileSync(path.join(out, n), 'utf8'), 'base64').toString('utf8');
  expect(decoded('certificate.b64')).toBe(m.leaf.certPem + m.intermediates[0]!.certPem);
  expect(decoded('ca.b64')).toBe(m.root.certPem);
  expect(decoded('key.b64')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  for (const n of ['certificate.b64', 'ca.b64', 'key.b64'])
    expect(lstatSync(path.join(out, n)).mode & 0o777).toBe(0o600);
  expect(lstatSync(out).mode & 0o777).toBe(0o700);
  expect(r.stdout).not.toMatch(/PRIVATE KEY/);

  const dropped = await runCli([
    ...args,
    '--address',
    'vertex.example.com',
    '--previous-address',
    '10.0.0.7',
    '--force',
  ]);
  expect(dropped.code).toBe(1);
  expect(dropped.stderr).toMatch(/does not cover the previous address 10\.0\.0\.7/);
  const allowed = await runCli([
    ...args,
    '--address',
    'vertex.example.com',
    '--previous-address',
    '10.0.0.7',
    '--allow-name-change',
    '--force',
  ]);
  expect(allowed.code).toBe(0);
  const wrongAddress = await runCli([...args, '--address', 'other.example.com', '--force']);
  expect(wrongAddress.code).toBe(1);
}, 60000);
