#!/usr/bin/env node
// npm run faults: the fault matrix. Each request kind the tool sends x {500, dropped connection,
// 2.5 s delay} x the 1st, 2nd and 3rd matching request, for: an install; an install whose rollout
// fails (so the faults land in the automatic rollback); the rollback command; and a batched
// install on 3 tenants. All with the real kubectl against the sandbox.
//
// A case passes when the end state is one of the two the tool may report, and it reports which:
//   exit 0   -> every tenant's secret holds the new certificate and its endpoint serves it;
//   exit 4/5/7/8 -> each tenant either serves the new certificate (fleet: reported ok) or holds the
//            old secret data byte-identical and serves it;
// and the audit log verifies. It prints a table and "N passed, N failed".
//
//   node scripts/faults.mjs [--only install,rollback-path,rollback,fleet] [--actions 500,drop,delay] [--nth 1,2,3] [--kinds 'PUT secret,PATCH secret']
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'xsoar-cert.js');
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt).split(',');
const ONLY = opt('--only', 'install,rollback-path,rollback,fleet');
const ACTIONS = opt('--actions', '500,drop,delay');
const NTHS = opt('--nth', '1,2,3').map(Number);
const work = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-faults-'));
const node = process.execPath;

/** The request kinds an install sends (method, path pattern as the sandbox matches it). */
const KINDS = [
  ['GET secret', 'GET', '/secrets/[^/]+$'],
  ['LIST secrets', 'GET', '/secrets$'],
  ['LIST deployments', 'GET', '/deployments$'],
  ['access review', 'POST', 'selfsubject'],
  ['POST backup', 'POST', '/secrets$'],
  ['PUT secret', 'PUT', '/secrets/'],
  ['PATCH deployment', 'PATCH', '/deployments/'],
  ['GET deployment', 'GET', '/deployments/'],
  ['DELETE backup', 'DELETE', '/secrets/'],
  ['PATCH secret (lock release)', 'PATCH', '/secrets/'],
].filter(([name]) => !argv.includes('--kinds') || opt('--kinds', '').some((k) => name.startsWith(k)));

function sh(script) {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`setup failed: ${script}\n${r.stderr}`);
}

let certSeq = 0;
function mintCert() {
  const d = mkdtempSync(path.join(work, 'cert-'));
  sh(`set -e; cd '${d}'
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 3650 -subj '/CN=Faults Root ${++certSeq}' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out leaf.csr -subj '/CN=localhost' 2>/dev/null
    printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:localhost,IP:127.0.0.1,DNS:*.xsoar.local\\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out leaf.pem -days 90 -extfile leaf.ext 2>/dev/null`);
  return { dir: d, leaf: path.join(d, 'leaf.pem'), key: path.join(d, 'key.pem'), root: path.join(d, 'root.pem') };
}
const fpOf = (file) => new X509Certificate(spawnSync('cat', [file]).stdout).fingerprint256;

function startSandbox(extra) {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(path.join(work, 'sandbox-'));
    const child = spawn(
      node,
      [
        path.join(ROOT, 'scripts', 'sandbox', 'cluster.mjs'),
        '--dir',
        dir,
        '--port',
        '0',
        '--rollout-delay-ms',
        '50',
        '--progress-deadline-ms',
        '1500',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"ready"'));
      if (line) {
        const ready = JSON.parse(line);
        const env = {
          ...process.env,
          KUBECONFIG: ready.kubeconfig,
          KUBECACHEDIR: path.join(dir, 'kube-cache'),
          XSOAR_CERT_STATE_DIR: path.join(dir, 'state'),
          XSOAR_CERT_CONFIG: path.join(dir, 'none.json'),
          NO_COLOR: '1',
          HOME: dir,
        };
        const control = async (p, body, method = body === undefined ? 'GET' : 'POST') => {
          const res = await fetch(`${ready.url}/_sandbox/${p}`, {
            method,
            body: body === undefined ? undefined : JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          });
          return res.json();
        };
        resolve({ ...ready, dir, child, env, control });
      }
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
  });
}

function served(endpoint) {
  return new Promise((resolve) => {
    const i = endpoint.lastIndexOf(':');
    const s = connect(
      { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)), rejectUnauthorized: false },
      () => {
        const fp = new X509Certificate(s.getPeerCertificate().raw).fingerprint256;
        s.destroy();
        resolve(fp);
      },
    );
    s.setTimeout(5000, () => s.destroy());
    s.on('error', () => resolve('unreachable'));
  });
}

function cli(args, env) {
  return new Promise((resolve) => {
    const c = spawn(node, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

async function secretData(sb, t) {
  const r = spawnSync(
    'kubectl',
    ['get', 'secret', t.secret, '-n', t.namespace, '-o', 'jsonpath={.data.tls\\.crt}{" "}{.data.tls\\.key}'],
    { env: sb.env, encoding: 'utf8' },
  );
  return r.stdout.trim();
}

const rows = [];
async function runCase(sb, op, kind, action, nth, tenants) {
  const [kname, method, pathRe] = kind;
  const cert = mintCert();
  const newFp = fpOf(cert.leaf);
  const before = await Promise.all(
    tenants.map(async (t) => ({ data: await secretData(sb, t), served: await served(t.endpoint) })),
  );
  if (op === 'rollback-path')
    await sb.control('rollout', { namespace: tenants[0].namespace, deployment: tenants[0].deployment, mode: 'fail' });
  const fault = {
    match: { method, path: pathRe },
    nth,
    action: action === '500' ? 'status' : action,
    status: 500,
    delayMs: 2500,
  };
  await sb.control('faults', fault);
  let r;
  const t0 = tenants[0];
  if (op === 'rollback') {
    r = await cli(
      ['rollback', '-n', t0.namespace, '--secret', t0.secret, '--endpoint', t0.endpoint, '--yes', '--timeout', '10'],
      sb.env,
    );
  } else if (op === 'fleet') {
    const file = path.join(work, 'tenants.txt');
    writeFileSync(file, tenants.map((t) => `${t.namespace}/${t.secret} ${t.endpoint}`).join('\n') + '\n');
    r = await cli(
      [
        'install',
        '--cert',
        cert.leaf,
        '--key',
        cert.key,
        '--ca',
        cert.root,
        '--host',
        'localhost',
        '--tenants-file',
        file,
        '--yes',
        '--timeout',
        '10',
        '--allow-name-change',
        '--json',
      ],
      sb.env,
    );
  } else {
    r = await cli(
      [
        'install',
        '--cert',
        cert.leaf,
        '--key',
        cert.key,
        '--ca',
        cert.root,
        '--host',
        'localhost',
        '-n',
        t0.namespace,
        '--secret',
        t0.secret,
        '--endpoint',
        t0.endpoint,
        '--yes',
        '--timeout',
        '10',
        '--allow-name-change',
      ],
      sb.env,
    );
  }
  await sb.control('faults', undefined, 'DELETE');
  await sb.control('rollout', { namespace: t0.namespace, deployment: t0.deployment, mode: 'complete' });
  // What the cluster and the endpoints show now.
  const after = await Promise.all(
    tenants.map(async (t) => ({ data: await secretData(sb, t), served: await served(t.endpoint) })),
  );
  const okTenants =
    op === 'fleet' && r.out.trim().startsWith('{') ? JSON.parse(r.out).tenants?.map((x) => x.ok) : undefined;
  const problems = [];
  after.forEach((a, i) => {
    const isNew = a.served === newFp && a.data.length > 0 && a.data !== before[i].data;
    const isOld = a.data === before[i].data && a.served === before[i].served;
    const rolledBackTo = op === 'rollback' && a.served !== before[i].served && a.data !== before[i].data; // rollback installs the previous version
    const reportedOk = op === 'fleet' ? okTenants?.[i] : r.code === 0;
    if (op === 'rollback') {
      if (r.code === 0 && !rolledBackTo) problems.push('exit 0 but not rolled back');
      if (r.code !== 0 && !isOld) problems.push(`exit ${r.code} but the secret or the endpoint changed`);
    } else if (reportedOk && !isNew)
      problems.push(`reported ok but tenant ${i + 1} does not serve the new certificate`);
    else if (!reportedOk && !isOld && !(op === 'fleet' && isNew))
      problems.push(`reported failed (exit ${r.code}) but tenant ${i + 1} is neither new nor old byte-identical`);
  });
  if (![0, 4, 5, 7, 8].includes(r.code))
    problems.push(`exit ${r.code}: ${r.err.split('\n').find((l) => l.startsWith('xsoar-cert:')) ?? r.err.slice(-200)}`);
  const audit = await cli(['audit', '--verify'], sb.env);
  if (audit.code !== 0) problems.push('the audit log does not verify');
  rows.push({ op, kind: kname, action, nth, code: r.code, pass: problems.length === 0, problems });
  process.stderr.write(
    `${problems.length ? 'FAIL' : 'ok  '} ${op} ${kname} ${action} #${nth}: exit ${r.code}${problems.length ? ' — ' + problems.join('; ') : ''}\n`,
  );
}

try {
  for (const op of ONLY) {
    const sb = await startSandbox(op === 'fleet' ? ['--tenants', '3', '--inline-pods'] : []);
    try {
      const tenants = sb.tenants;
      if (op === 'rollback') {
        // Something to roll back to: two installs first.
        for (let i = 0; i < 2; i++) {
          const c = mintCert();
          await cli(
            [
              'install',
              '--cert',
              c.leaf,
              '--key',
              c.key,
              '--ca',
              c.root,
              '--host',
              'localhost',
              '-n',
              tenants[0].namespace,
              '--secret',
              tenants[0].secret,
              '--endpoint',
              tenants[0].endpoint,
              '--yes',
              '--allow-name-change',
            ],
            sb.env,
          );
        }
      }
      for (const kind of KINDS)
        for (const action of ACTIONS)
          for (const nth of NTHS) {
            await runCase(sb, op, kind, action, nth, op === 'fleet' ? tenants : [tenants[0]]);
            if (op === 'rollback') {
              // Keep a version to roll back to for the next case.
              const c = mintCert();
              await cli(
                [
                  'install',
                  '--cert',
                  c.leaf,
                  '--key',
                  c.key,
                  '--ca',
                  c.root,
                  '--host',
                  'localhost',
                  '-n',
                  tenants[0].namespace,
                  '--secret',
                  tenants[0].secret,
                  '--endpoint',
                  tenants[0].endpoint,
                  '--yes',
                  '--allow-name-change',
                ],
                sb.env,
              );
            }
          }
    } finally {
      sb.child.kill('SIGTERM');
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log('\nop             request kind       action  nth  exit  result');
for (const r of rows)
  console.log(
    `${r.op.padEnd(14)} ${r.kind.padEnd(18)} ${r.action.padEnd(7)} ${String(r.nth).padStart(3)}  ${String(r.code).padStart(4)}  ${r.pass ? 'pass' : 'FAIL: ' + r.problems.join('; ')}`,
  );
const passed = rows.filter((r) => r.pass).length;
console.log(`${passed} passed, ${rows.length - passed} failed`);
process.exit(rows.length - passed ? 1 : 0);
