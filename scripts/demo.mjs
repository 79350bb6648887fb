#!/usr/bin/env node
// npm run demo: the main job end to end on the sandbox cluster, with the real kubectl.
// Starts the sandbox, makes a dev CA and a leaf, shows what the tenant serves, installs the
// new certificate, shows it is now served, then status and audit; stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:tls';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'xsoar-cert.js');
const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-demo-'));
const bold = process.stdout.isTTY && !process.env.NO_COLOR;
const say = (s) => process.stdout.write(bold ? `\n\x1b[1m== ${s}\x1b[0m\n` : `\n== ${s}\n`);

if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0) {
  console.error('demo: kubectl is not installed (Debian: apt install kubernetes-client)');
  process.exit(4);
}

const sandbox = spawn(
  process.execPath,
  [
    path.join(ROOT, 'scripts', 'sandbox', 'cluster.mjs'),
    '--dir',
    path.join(work, 'sandbox'),
    '--rollout-delay-ms',
    '300',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const stop = () => {
  sandbox.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', stop);
const ready = await new Promise((resolve, reject) => {
  let buf = '';
  sandbox.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    const line = buf.split('\n').find((l) => l.includes('"ready"'));
    if (line) resolve(JSON.parse(line));
  });
  sandbox.on('exit', (code) => reject(new Error(`the sandbox exited (${code})`)));
});
const tenant = ready.tenants[0];
const env = {
  ...process.env,
  KUBECONFIG: ready.kubeconfig,
  KUBECACHEDIR: path.join(work, 'kube-cache'),
  XSOAR_CERT_STATE_DIR: path.join(work, 'state'),
  XSOAR_CERT_CONFIG: path.join(work, 'none.json'),
};

function run(args, { show = true } = {}) {
  if (show) process.stdout.write(`$ xsoar-cert ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`demo: "xsoar-cert ${args[0]}" exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

function served() {
  const [host, port] = tenant.endpoint.split(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: Number(port), rejectUnauthorized: false }, () => {
      const c = s.getPeerX509Certificate();
      s.destroy();
      resolve(`${c.subject.replace(/\n/g, ', ')}  sha256 ${c.fingerprint256}`);
    });
    s.on('error', reject);
  });
}

say(
  `Sandbox cluster at ${ready.url}: tenant ${tenant.namespace}, secret ${tenant.secret}, proxy deployment/${tenant.deployment}, HTTPS on ${tenant.endpoint}`,
);
const before = await served();
console.log(`The tenant serves its self-signed certificate: ${before}`);

const certs = path.join(work, 'certs');
say('1. A development CA and a certificate for the tenant');
run([
  'generate',
  '--ca',
  '--host',
  'localhost',
  '--host',
  '127.0.0.1',
  '--host',
  `${tenant.namespace}.xsoar.local`,
  '--out-dir',
  certs,
]);
const leaf = path.join(certs, 'localhost+2.pem');
const key = path.join(certs, 'localhost+2-key.pem');
const ca = path.join(certs, 'rootCA.pem');

say('2. Verify before touching anything (chain, names, lint, TLS 1.2 + 1.3 handshakes on loopback)');
run(['verify', '--cert', leaf, '--key', key, '--ca', ca, '--host', 'localhost', '--host', '127.0.0.1']);

say('3. Install with the real kubectl: backup, apply, restart, confirm live');
run([
  'install',
  '--cert',
  leaf,
  '--key',
  key,
  '--ca',
  ca,
  '--host',
  'localhost',
  '-n',
  tenant.namespace,
  '--secret',
  tenant.secret,
  '--endpoint',
  tenant.endpoint,
  '--yes',
]);

const after = await served();
say('4. What the tenant serves now');
console.log(`before: ${before}\nafter:  ${after}`);
if (after === before) {
  console.error('demo: the served certificate did not change');
  process.exit(1);
}

say('5. status');
run(['status', '-n', tenant.namespace, '--secret', tenant.secret, '--endpoint', tenant.endpoint]);
say('6. audit (and its hash chain)');
run(['audit']);
run(['audit', '--verify']);
say('Done: the sandbox is stopped and its files removed.');
process.exit(0);
