#!/usr/bin/env node
// The sandbox cluster: a local Kubernetes API subset for the real kubectl,
// plus real TLS tenant proxies, for the e2e tests, `npm run demo` and the
// benchmarks. Usage (README "Sandbox cluster"):
//
//   node scripts/sandbox/cluster.mjs --dir DIR [--port 0] [--tenants N]
//     [--tenant NS[/SECRET[/DEPLOYMENT]]]... [--rollout-delay-ms 300]
//     [--progress-deadline-ms 2000] [--inline-pods] [--tls] [--token TOKEN]
//
// --tls serves the API over HTTPS (its CA in the kubeconfig) and /_sandbox on a plain-HTTP
// `controlUrl`; --token (implies --tls) requires `Authorization: Bearer TOKEN` on every API request.
//
// Prints one JSON line {"ready":true,...} on stdout when every tenant serves,
// writes DIR/kubeconfig and DIR/requests.log, and stops on SIGTERM/SIGINT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from './store.mjs';
import { Controller } from './pods.mjs';
import { createApiServer } from './api-server.mjs';

const USAGE =
  'usage: node scripts/sandbox/cluster.mjs --dir DIR [--port 0] [--tenants N] [--tenant NS[/SECRET[/DEPLOYMENT]]]... [--rollout-delay-ms N] [--progress-deadline-ms N] [--inline-pods] [--tls] [--token TOKEN]';
const PART_OF = { 'app.kubernetes.io/part-of': 'xsoar' };

/** @param {string[]} argv */
function parseArgs(argv) {
  const opts = {
    dir: '',
    port: 0,
    tenants: 0,
    tenant: /** @type {string[]} */ ([]),
    rolloutDelayMs: 300,
    progressDeadlineMs: 2000,
    inlinePods: false,
    tls: false,
    token: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return /** @type {string} */ (v);
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) fail(`${flag} needs a non-negative integer`);
      return v;
    };
    switch (flag) {
      case '--dir':
        opts.dir = path.resolve(value());
        break;
      case '--port':
        opts.port = number();
        break;
      case '--tenants':
        opts.tenants = number();
        break;
      case '--tenant':
        opts.tenant.push(value());
        break;
      case '--rollout-delay-ms':
        opts.rolloutDelayMs = number();
        break;
      case '--progress-deadline-ms':
        opts.progressDeadlineMs = number();
        break;
      case '--inline-pods':
        opts.inlinePods = true;
        break;
      case '--tls':
        opts.tls = true;
        break;
      case '--token':
        opts.token = value();
        opts.tls = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a}`);
    }
  }
  if (!opts.dir) fail('--dir DIR is required');
  return opts;
}

/** @param {string} msg @returns {never} */
function fail(msg) {
  process.stderr.write(`sandbox: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

/** @param {ReturnType<typeof parseArgs>} opts */
function tenantSpecs(opts) {
  const specs = [];
  for (let i = 1; i <= opts.tenants; i++)
    specs.push({ namespace: `tenant-${i}`, secret: 'xsoar-tls', deployment: 'xsoar-proxy' });
  for (const t of opts.tenant) {
    const [namespace, secret = 'xsoar-tls', deployment = 'xsoar-proxy'] = t.split('/');
    if (!namespace) fail(`--tenant ${t}: expected NS[/SECRET[/DEPLOYMENT]]`);
    specs.push({ namespace, secret, deployment });
  }
  if (!specs.length) specs.push({ namespace: 'xsoar', secret: 'xsoar-tls', deployment: 'xsoar-proxy' });
  return specs;
}

/** @param {Store} store @param {string} name @param {Record<string,string>} [labels] */
function seedNamespace(store, name, labels = {}) {
  store.create('namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
}

const managed = (/** @type {string} */ apiVersion) => [
  {
    manager: 'sandbox-seed',
    operation: 'Update',
    apiVersion,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: {},
  },
];

/** @param {Store} store @param {{ namespace: string, secret: string, deployment: string }} t @param {{ crt: Buffer, key: Buffer }} pem */
function seedTenant(store, t, pem) {
  if (!store.get('namespaces', '', t.namespace)) seedNamespace(store, t.namespace, PART_OF);
  store.create('secrets', {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: t.secret, namespace: t.namespace, labels: { ...PART_OF }, managedFields: managed('v1') },
    data: { 'tls.crt': pem.crt.toString('base64'), 'tls.key': pem.key.toString('base64') },
  });
  const labels = { app: t.deployment, ...PART_OF };
  store.create('deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: t.deployment,
      namespace: t.namespace,
      labels: { ...labels },
      generation: 1,
      managedFields: managed('apps/v1'),
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: t.deployment } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          containers: [
            {
              name: 'proxy',
              image: 'xsoar-cert/sandbox-tenant-proxy:1',
              ports: [{ containerPort: 8443, name: 'https', protocol: 'TCP' }],
              env: [{ name: 'TENANT', value: t.namespace }],
              volumeMounts: [{ name: 'tls', mountPath: '/etc/tls', readOnly: true }],
            },
          ],
          volumes: [{ name: 'tls', secret: { secretName: t.secret, defaultMode: 0o400 } }],
        },
      },
    },
    status: {},
  });
}

/** @param {string} dir @param {string} url @param {Buffer} [ca] @param {string} [token] */
function writeKubeconfig(dir, url, ca, token) {
  const file = path.join(dir, 'kubeconfig');
  const caLine = ca ? `\n    certificate-authority-data: ${ca.toString('base64')}` : '';
  const text = `apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: ${url}${caLine}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox-admin
current-context: sandbox
users:
- name: sandbox-admin
  user: ${token ? `{ token: ${token} }` : '{}'}
preferences: {}
`;
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const store = new Store();
  for (const ns of ['default', 'kube-system', 'kube-public']) seedNamespace(store, ns);
  const specs = tenantSpecs(opts);
  // openssl keygen dominates start-up for many tenants: run a few at once.
  const pems = await mintAll(
    opts.dir,
    specs.map((s) => s.namespace),
  );
  specs.forEach((t, i) => seedTenant(store, t, pems[i]));

  const controller = new Controller({
    store,
    dir: opts.dir,
    rolloutDelayMs: opts.rolloutDelayMs,
    progressDeadlineMs: opts.progressDeadlineMs,
    inlinePods: opts.inlinePods,
  });
  let address = '';
  const tls = opts.tls ? await apiServerCert(opts.dir) : undefined;
  const api = createApiServer({ store, controller, dir: opts.dir, address: () => address, tls, token: opts.token });
  const listen = (/** @type {import('node:net').Server} */ srv, /** @type {number} */ port) =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (srv.address()).port));
    });
  const port = await listen(api.server, opts.port);
  address = `127.0.0.1:${port}`;
  const url = `${tls ? 'https' : 'http'}://${address}`;
  const controlUrl = api.control ? `http://127.0.0.1:${await listen(api.control, 0)}` : url;

  const tenants = [];
  for (const s of specs) tenants.push(await controller.addTenant(s));
  // Start pods a few at a time (100 child processes at once would swamp a 2-core box).
  const queue = [...tenants];
  await Promise.all(
    Array.from({ length: Math.min(8, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) await controller.startInitial(t);
    }),
  );

  const kubeconfig = writeKubeconfig(opts.dir, url, tls?.cert, opts.token);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    api.closeWatchers();
    await controller.stop().catch(() => {});
    api.server.closeAllConnections?.();
    api.server.close();
    api.control?.close();
    process.exit(0);
  };
  // A bug in one request or rollout must not take the whole cluster (and every
  // test using it) down: report it on stderr and keep serving.
  process.on('uncaughtException', (err) => process.stderr.write(`sandbox: uncaught: ${err?.stack ?? err}\n`));
  process.on('unhandledRejection', (err) =>
    process.stderr.write(`sandbox: unhandled rejection: ${/** @type {any} */ (err)?.stack ?? err}\n`),
  );
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Never outlive the process that started us (e.g. a crashed test run).
  // (process.ppid is a snapshot in Node 20, so probe the parent with signal 0.)
  const parent = process.ppid;
  if (parent > 1) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        void stop();
      }
    }, 1000).unref();
  }

  process.stdout.write(
    JSON.stringify({
      ready: true,
      url,
      controlUrl,
      kubeconfig,
      context: 'sandbox',
      pid: process.pid,
      tenants: tenants.map((t) => ({
        namespace: t.namespace,
        secret: t.secret,
        deployment: t.deployment,
        endpoint: t.endpoint,
      })),
    }) + '\n',
  );
}

/** A self-signed certificate for the API server's 127.0.0.1 (openssl, like the tenants'). */
async function apiServerCert(/** @type {string} */ dir) {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const d = path.join(dir, 'apiserver');
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  const [key, cert] = [path.join(d, 'tls.key'), path.join(d, 'tls.crt')];
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=sandbox-apiserver',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

/** @param {string} dir @param {string[]} namespaces */
async function mintAll(dir, namespaces) {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  const out = new Array(namespaces.length);
  let next = 0;
  const width = Math.max(1, Math.min(4, os.cpus().length * 2));
  // RSA key generation dominates start-up (about 0.1-0.3 s each): beyond 10
  // tenants, one key signs every tenant's own self-signed certificate, so a
  // 100-tenant benchmark sandbox starts in about a second.
  let sharedKey = '';
  if (namespaces.length > 10) {
    sharedKey = path.join(dir, 'seed', 'shared.key');
    fs.mkdirSync(path.dirname(sharedKey), { recursive: true, mode: 0o700 });
    await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', sharedKey]);
    fs.chmodSync(sharedKey, 0o600);
  }
  await Promise.all(
    Array.from({ length: Math.min(width, namespaces.length) }, async () => {
      while (next < namespaces.length) {
        const i = next++;
        const ns = namespaces[i];
        if (namespaces.indexOf(ns) !== i) continue;
        const d = path.join(dir, 'seed', ns);
        fs.mkdirSync(d, { recursive: true, mode: 0o700 });
        const key = path.join(d, 'tls.key');
        const crt = path.join(d, 'tls.crt');
        const keyArgs = sharedKey ? ['-key', sharedKey] : ['-newkey', 'rsa:2048', '-nodes', '-keyout', key];
        await run('openssl', [
          'req',
          '-x509',
          ...keyArgs,
          '-out',
          crt,
          '-days',
          '365',
          '-subj',
          `/CN=${ns}.xsoar.local/O=xsoar-cert sandbox`,
          '-addext',
          `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:${ns}.xsoar.local`,
        ]);
        if (sharedKey) fs.copyFileSync(sharedKey, key);
        fs.chmodSync(key, 0o600);
        out[i] = { crt: fs.readFileSync(crt), key: fs.readFileSync(key) };
      }
    }),
  );
  // Two tenants in one namespace (unusual) share its certificate.
  return namespaces.map((ns, i) => out[i] ?? out[namespaces.indexOf(ns)]);
}

main().catch((err) => {
  process.stderr.write(`sandbox: ${err?.stack ?? err}\n`);
  process.exit(1);
});
