#!/usr/bin/env node
// The sandbox cluster: a local server speaking the subset of the Kubernetes REST API that
// the real kubectl uses for xsoar-cert's commands (see ../shared/kubectl-http-trace.md as
// summarised in README "Sandbox cluster"), plus tenant proxy "pods" that really serve the
// secret's certificate over TLS and are replaced by a rollout.
//
//   node scripts/sandbox/cluster.mjs --dir DIR [--port 0] [--tenants N] [--tenant NS[/SECRET[/DEPLOY]]]...
//                                    [--rollout-delay-ms N] [--progress-deadline-ms N] [--inline-pods]
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect as tcpConnect } from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeObject } from './protobuf.mjs';
import { startTenantProxy } from './tenant-proxy.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const all = (n) => argv.flatMap((a, i) => (a === n ? [argv[i + 1]] : []));
const DIR = path.resolve(opt('--dir', path.join(process.cwd(), '.sandbox')));
const PORT = Number(opt('--port', '0'));
const INLINE = argv.includes('--inline-pods');
let rolloutDelayMs = Number(opt('--rollout-delay-ms', '300'));
const progressDeadlineMs = Number(opt('--progress-deadline-ms', '3000'));
const ADMIN = 'sandbox-admin';
mkdirSync(DIR, { recursive: true, mode: 0o700 });
mkdirSync(path.join(DIR, 'pods'), { recursive: true, mode: 0o700 });

// ---------------------------------------------------------------- store
let rv = 1000;
const nextRv = () => String(++rv);
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
/** kind → Map<"ns/name", object> */
const store = { namespaces: new Map(), secrets: new Map(), deployments: new Map() };
const watchers = new Set();
const tenants = [];
const faults = [];
const rolloutModes = new Map(); // "ns/name" → { mode, delayMs }
const authz = { deny: [], readOnlyUsers: new Set() };
const requestLog = [];

const clone = (o) => JSON.parse(JSON.stringify(o));
const key = (ns, name) => `${ns}/${name}`;

function status(code, reason, message, details = {}) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}
const notFound = (res, name, group = '') => status(404, 'NotFound', `${res}${group ? '.' + group : ''} "${name}" not found`, { name, group: group || undefined, kind: res });

function putObject(kindKey, obj) {
  obj.metadata.resourceVersion = nextRv();
  store[kindKey].set(key(obj.metadata.namespace ?? '', obj.metadata.name), obj);
  return obj;
}

function notify(kindKey, type, obj) {
  for (const w of watchers) if (w.kindKey === kindKey && w.match(obj)) w.send(type, obj);
}

// ---------------------------------------------------------------- seed
function selfSignedPem(ns) {
  const d = path.join(DIR, 'seed', ns);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  const k = path.join(d, 'tls.key');
  const c = path.join(d, 'tls.crt');
  if (!existsSync(c)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', k, '-out', c, '-days', '365',
      '-subj', `/CN=${ns}.xsoar.local`, '-addext', `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:${ns}.xsoar.local`], { stdio: 'ignore' });
  }
  return { crt: readFileSync(c), key: readFileSync(k) };
}

function seedTenant(ns, secretName, deployName) {
  const labels = { 'app.kubernetes.io/part-of': 'xsoar' };
  if (!store.namespaces.has(key('', ns))) putObject('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: randomUUID(), labels, creationTimestamp: now() }, status: { phase: 'Active' } });
  const pem = selfSignedPem(ns);
  putObject('secrets', {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
    metadata: { name: secretName, namespace: ns, uid: randomUUID(), labels, creationTimestamp: now() },
    data: { 'tls.crt': pem.crt.toString('base64'), 'tls.key': pem.key.toString('base64') },
  });
  const dep = putObject('deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: deployName, namespace: ns, uid: randomUUID(), labels, generation: 1, creationTimestamp: now() },
    spec: {
      replicas: 1, selector: { matchLabels: { app: deployName } },
      template: {
        metadata: { labels: { app: deployName } },
        spec: {
          containers: [{ name: 'proxy', image: 'xsoar/tenant-proxy:sandbox', env: [], volumeMounts: [{ name: 'tls', mountPath: '/etc/tls', readOnly: true }] }],
          volumes: [{ name: 'tls', secret: { secretName } }],
        },
      },
    },
    status: {},
  });
  const t = { namespace: ns, secret: secretName, deployment: deployName, service: null, pod: null, endpoint: '' };
  tenants.push(t);
  return { t, dep };
}

// ---------------------------------------------------------------- pods and rollouts
let podSeq = 0;
async function startPod(t, dep) {
  const name = `${t.deployment}-${(++podSeq).toString(36)}${Math.random().toString(36).slice(2, 7)}`;
  const dir = path.join(DIR, 'pods', name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const volume = dep.spec.template.spec.volumes?.find((v) => v.secret)?.secret?.secretName;
  const secret = store.secrets.get(key(t.namespace, volume ?? t.secret));
  if (!secret) throw new Error(`secret ${volume} not found`);
  // Like a kubelet secret volume: files, mode 0600.
  for (const [k, v] of Object.entries(secret.data ?? {})) writeFileSync(path.join(dir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
  const env = { ...process.env };
  for (const e of dep.spec.template.spec.containers?.[0]?.env ?? []) env[e.name] = e.value;
  if (INLINE) {
    const server = await startTenantProxy({ dir, name, env });
    return { name, port: server.address().port, stop: () => server.close() };
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, 'tenant-proxy.mjs'), '--dir', dir, '--name', name], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /READY (\d+)/.exec(d);
      if (m) resolve({ name, pid: child.pid, port: Number(m[1]), stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (code) => reject(new Error(err.trim() || `pod exited ${code}`)));
  });
}

function setDeploymentStatus(dep, s) {
  dep.status = s;
  putObject('deployments', dep);
  notify('deployments', 'MODIFIED', dep);
}

const condition = (type, st, reason, message) => ({ type, status: st, reason, message, lastUpdateTime: now(), lastTransitionTime: now() });

function availableStatus(dep) {
  return {
    observedGeneration: dep.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1,
    conditions: [condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'), condition('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${dep.metadata.name}" has successfully progressed.`)],
  };
}

/** A spec change: start a new pod with the current secret; switch the Service when it is ready. */
async function rollout(t) {
  const dep = store.deployments.get(key(t.namespace, t.deployment));
  const gen = dep.metadata.generation;
  const mode = rolloutModes.get(key(t.namespace, t.deployment)) ?? { mode: 'complete' };
  const delay = mode.delayMs ?? rolloutDelayMs;
  if (mode.mode === 'unobserved') return;
  await new Promise((r) => setTimeout(r, delay / 2));
  if (dep.metadata.generation !== gen) return; // superseded
  setDeploymentStatus(dep, { ...availableStatus(dep), observedGeneration: gen, replicas: 2, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 });
  if (mode.mode === 'stuck') return;
  const fail = (why) => setTimeout(() => {
    if (dep.metadata.generation !== gen) return;
    setDeploymentStatus(dep, { ...availableStatus(dep), replicas: 2, updatedReplicas: 1, availableReplicas: 1, conditions: [condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'), condition('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${dep.metadata.name}" has timed out progressing: ${why}`)] });
  }, Math.max(0, progressDeadlineMs - delay / 2));
  if (mode.mode === 'fail') return fail('injected failure');
  let pod;
  try {
    pod = await startPod(t, dep);
  } catch (err) {
    log(`pod for ${t.namespace}/${t.deployment} failed to start: ${err.message}`);
    return fail(String(err.message).split('\n')[0]);
  }
  await new Promise((r) => setTimeout(r, delay / 2));
  if (dep.metadata.generation !== gen) return pod.stop();
  const old = t.pod;
  t.pod = pod;
  old?.stop();
  setDeploymentStatus(dep, availableStatus(dep));
}

function startService(t) {
  return new Promise((resolve) => {
    const srv = createTcpServer((sock) => {
      const up = tcpConnect(t.pod.port, '127.0.0.1');
      sock.pipe(up).pipe(sock);
      const close = () => { sock.destroy(); up.destroy(); };
      sock.on('error', close);
      up.on('error', close);
    });
    srv.listen(0, '127.0.0.1', () => {
      t.service = srv;
      t.endpoint = `127.0.0.1:${srv.address().port}`;
      resolve();
    });
  });
}

// ---------------------------------------------------------------- authz
function identity(req) {
  return String(req.headers['impersonate-user'] ?? ADMIN);
}
function allowed(user, verb, resource, ns) {
  if (authz.readOnlyUsers.has(user) && ['create', 'update', 'patch', 'delete'].includes(verb)) return false;
  return !authz.deny.some((d) => (d.user ?? ADMIN) === user && (d.verb === '*' || d.verb === verb) && (d.resource === '*' || d.resource === resource) && (!d.namespace || d.namespace === ns));
}
function forbidden(user, verb, resource, group, ns) {
  return status(403, 'Forbidden', `${resource}${group ? '.' + group : ''} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}"${ns ? ` in the namespace "${ns}"` : ''}`, { kind: resource, group: group || undefined });
}

// ---------------------------------------------------------------- selectors and patches
function labelMatch(sel, labels = {}) {
  if (!sel) return true;
  return sel.split(',').filter(Boolean).every((term) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return term.startsWith('!') ? !(term.slice(1) in labels) : term in labels;
    return m[2] === '!=' ? labels[m[1]] !== m[3] : labels[m[1]] === m[3];
  });
}
function fieldMatch(sel, obj) {
  if (!sel) return true;
  return sel.split(',').every((term) => {
    const [k, v] = term.split('=');
    return k === 'metadata.name' ? obj.metadata.name === v : k === 'metadata.namespace' ? obj.metadata.namespace === v : true;
  });
}
/** JSON merge patch (RFC 7386); strategic merge is the same for the maps these objects patch. */
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
function jsonPatch(doc, ops) {
  const out = clone(doc);
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = cur[p] ??= {};
    const last = parts[parts.length - 1];
    if (op.op === 'remove') delete cur[last];
    else if (op.op === 'test') { if (JSON.stringify(cur[last]) !== JSON.stringify(op.value)) throw Object.assign(new Error('test failed'), { code: 422 }); }
    else cur[last] = op.value;
  }
  return out;
}

// ---------------------------------------------------------------- discovery and openapi
const RESOURCES = {
  '/api/v1': { groupVersion: 'v1', resources: [
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
    { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
  ] },
  '/apis/apps/v1': { groupVersion: 'apps/v1', resources: [
    { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['deploy'], categories: ['all'] },
    { name: 'deployments/status', singularName: '', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
  ] },
  '/apis/authorization.k8s.io/v1': { groupVersion: 'authorization.k8s.io/v1', resources: [
    { name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] },
    { name: 'selfsubjectrulesreviews', singularName: 'selfsubjectrulesreview', namespaced: false, kind: 'SelfSubjectRulesReview', verbs: ['create'] },
  ] },
};
const GROUPS = ['apps', 'authorization.k8s.io'].map((g) => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' } }));

function openapiDoc(gv, kinds) {
  const paths = {};
  for (const kind of kinds) {
    paths[`/${gv.startsWith('v1') ? 'api/' + gv : 'apis/' + gv}/namespaces/{namespace}/${kind.toLowerCase()}s/{name}`] = {
      patch: {
        'x-kubernetes-group-version-kind': { group: gv.includes('/') ? gv.split('/')[0] : '', version: 'v1', kind },
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string' } }],
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.4-sandbox' }, paths, components: { schemas: {} } };
}

// ---------------------------------------------------------------- HTTP
function send(res, code, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
function log(line) {
  appendFileSync(path.join(DIR, 'requests.log'), `${new Date().toISOString()} ${line}\n`);
}

function faultFor(req, url) {
  for (const f of faults) {
    if (f.remaining === 0) continue;
    const m = f.match ?? {};
    if (m.method && m.method.toUpperCase() !== req.method) continue;
    if (m.path && !new RegExp(m.path).test(url.pathname)) continue;
    const ua = String(req.headers['user-agent'] ?? '');
    if (m.userAgent ? !new RegExp(m.userAgent).test(ua) : url.pathname === '/version' && ua.startsWith('kubectl-dispatcher')) continue;
    if (url.pathname.startsWith('/_sandbox')) continue;
    f.seen = (f.seen ?? 0) + 1;
    if (f.seen < (f.nth ?? 1)) continue;
    if (f.remaining > 0) f.remaining--;
    f.hits = (f.hits ?? 0) + 1;
    return f;
  }
  return undefined;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function parseBody(req, buf) {
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('protobuf')) return decodeObject(buf);
  return buf.length ? JSON.parse(buf.toString('utf8')) : {};
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://sandbox');
  const started = Date.now();
  const entry = { time: new Date().toISOString(), method: req.method, path: url.pathname, query: url.search, userAgent: String(req.headers['user-agent'] ?? ''), user: identity(req) };
  res.on('finish', () => {
    entry.status = res.statusCode;
    entry.ms = Date.now() - started;
    requestLog.push(entry);
    if (requestLog.length > 5000) requestLog.shift();
    log(`${req.method} ${url.pathname}${url.search} ${res.statusCode} ${entry.ms}ms ${entry.user}`);
  });
  try {
    const body = await readBody(req);
    if (url.pathname.startsWith('/_sandbox/')) return control(req, res, url, body);
    const fault = faultFor(req, url);
    if (fault) {
      if (fault.action === 'drop') {
        entry.fault = 'drop';
        req.socket.destroy();
        return;
      }
      if (fault.action === 'delay') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      else {
        if (fault.retryAfter) res.setHeader('Retry-After', String(fault.retryAfter));
        return send(res, fault.status ?? 500, status(fault.status ?? 500, fault.reason ?? 'InternalError', fault.message ?? 'Internal error occurred: sandbox injected fault'));
      }
    }
    return await api(req, res, url, body);
  } catch (err) {
    return send(res, err.code >= 400 && err.code < 600 ? err.code : 500, status(err.code >= 400 && err.code < 600 ? err.code : 500, err.reason ?? 'InternalError', String(err.message)));
  }
});

const fail = (code, reason, message) => Object.assign(new Error(message), { code, reason });

async function api(req, res, url, body) {
  const p = url.pathname.replace(/\/$/, '');
  const q = url.searchParams;
  if (p === '/version') return send(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.4-sandbox', gitCommit: 'sandbox', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' });
  if (p === '/api') return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host }] });
  if (p === '/apis') return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS });
  if (RESOURCES[p]) return send(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', ...RESOURCES[p] });
  if (p === '/openapi/v3') return send(res, 200, { paths: { 'api/v1': { serverRelativeURL: '/openapi/v3/api/v1?hash=SANDBOX1' }, 'apis/apps/v1': { serverRelativeURL: '/openapi/v3/apis/apps/v1?hash=SANDBOX2' } } });
  if (p === '/openapi/v3/api/v1') return send(res, 200, openapiDoc('v1', ['Secret', 'Namespace']));
  if (p === '/openapi/v3/apis/apps/v1') return send(res, 200, openapiDoc('apps/v1', ['Deployment']));
  if (p.startsWith('/openapi/')) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));

  const user = identity(req);
  if (req.method === 'POST' && /^\/apis\/authorization\.k8s\.io\/v1\/selfsubject(access|rules)reviews$/.test(p)) {
    const review = parseBody(req, body);
    if (review.kind === 'SelfSubjectRulesReview') {
      const ns = review.spec?.namespace ?? '';
      const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
      const rules = [];
      for (const [resource, group] of [['secrets', ''], ['deployments', 'apps'], ['namespaces', '']]) {
        const ok = verbs.filter((v) => allowed(user, v, resource, ns));
        if (ok.length) rules.push({ verbs: ok, apiGroups: [group], resources: [resource] });
      }
      rules.push({ verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] });
      return send(res, 201, { ...review, apiVersion: 'authorization.k8s.io/v1', status: { resourceRules: rules, nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/version', '/openapi/*'] }], incomplete: false } });
    }
    const ra = review.spec?.resourceAttributes ?? {};
    const ok = allowed(user, ra.verb, ra.resource, ra.namespace);
    return send(res, 201, { ...review, apiVersion: 'authorization.k8s.io/v1', status: ok ? { allowed: true, reason: 'sandbox: allowed' } : { allowed: false } });
  }

  // /api/v1/namespaces[/NS[/secrets[/NAME]]] and /apis/apps/v1/namespaces/NS/deployments[/NAME]
  let m = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(p);
  if (m) return namespaces(req, res, m[1], body, user);
  m = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/secrets(?:\/([^/]+))?$/.exec(p);
  if (m) return objects(req, res, url, 'secrets', '', m[1], m[2], body, user);
  m = /^\/apis\/apps\/v1(?:\/namespaces\/([^/]+))?\/deployments(?:\/([^/]+))?(\/status)?$/.exec(p);
  if (m) return objects(req, res, url, 'deployments', 'apps', m[1], m[2], body, user);
  return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
}

function namespaces(req, res, name, body, user) {
  if (!allowed(user, req.method === 'GET' ? (name ? 'get' : 'list') : 'create', 'namespaces', '')) return send(res, 403, forbidden(user, 'get', 'namespaces', '', ''));
  if (req.method === 'GET' && !name) {
    return send(res, 200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [...store.namespaces.values()].map((o) => { const c = clone(o); delete c.apiVersion; delete c.kind; return c; }) });
  }
  if (req.method === 'GET') {
    const ns = store.namespaces.get(key('', name));
    return ns ? send(res, 200, ns) : send(res, 404, notFound('namespaces', name));
  }
  if (req.method === 'POST') {
    const obj = JSON.parse(body.toString() || '{}');
    if (store.namespaces.has(key('', obj.metadata.name))) return send(res, 409, status(409, 'AlreadyExists', `namespaces "${obj.metadata.name}" already exists`, { name: obj.metadata.name, kind: 'namespaces' }));
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    obj.status = { phase: 'Active' };
    return send(res, 201, putObject('namespaces', { apiVersion: 'v1', kind: 'Namespace', ...obj }));
  }
  return send(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
}

function validateSecret(obj) {
  for (const [k, v] of Object.entries(obj.data ?? {})) {
    if (!/^[-._a-zA-Z0-9]+$/.test(k)) throw fail(422, 'Invalid', `Secret "${obj.metadata.name}" is invalid: data[${k}]: Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw fail(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`);
  }
  for (const [k, v] of Object.entries(obj.stringData ?? {})) (obj.data ??= {})[k] = Buffer.from(String(v)).toString('base64');
  delete obj.stringData;
  obj.type ??= 'Opaque';
  if (obj.type === 'kubernetes.io/tls' && (!('tls.crt' in (obj.data ?? {})) || !('tls.key' in (obj.data ?? {})))) {
    throw fail(422, 'Invalid', `Secret "${obj.metadata.name}" is invalid: data[tls.crt]: Required value`);
  }
}

function objects(req, res, url, kindKey, group, ns, name, body, user) {
  const q = url.searchParams;
  const kindName = kindKey === 'secrets' ? 'Secret' : 'Deployment';
  const apiVersion = group ? `${group}/v1` : 'v1';
  const verbOf = { GET: name ? 'get' : q.get('watch') === 'true' ? 'watch' : 'list', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[req.method];
  if (!allowed(user, verbOf, kindKey, ns)) return send(res, 403, forbidden(user, verbOf, kindKey, group, ns));
  if (ns && !store.namespaces.has(key('', ns)) && req.method !== 'GET') return send(res, 404, notFound('namespaces', ns));
  const k = key(ns, name);

  if (req.method === 'GET' && !name) {
    const items = [...store[kindKey].values()].filter((o) => (!ns || o.metadata.namespace === ns) && labelMatch(q.get('labelSelector'), o.metadata.labels) && fieldMatch(q.get('fieldSelector'), o));
    if (q.get('watch') === 'true') return watch(req, res, url, kindKey, ns, items);
    return send(res, 200, { kind: `${kindName}List`, apiVersion, metadata: { resourceVersion: String(rv) }, items: items.map((o) => { const c = clone(o); delete c.apiVersion; delete c.kind; return c; }) });
  }
  if (req.method === 'GET') {
    const o = store[kindKey].get(k);
    return o ? send(res, 200, o) : send(res, 404, notFound(kindKey, name, group));
  }
  if (req.method === 'POST') {
    const obj = parseBody(req, body);
    obj.apiVersion = apiVersion;
    obj.kind = kindName;
    obj.metadata ??= {};
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + Math.random().toString(36).slice(2, 7);
    obj.metadata.namespace = ns;
    if (store[kindKey].has(key(ns, obj.metadata.name))) return send(res, 409, status(409, 'AlreadyExists', `${kindKey}${group ? '.' + group : ''} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, group: group || undefined, kind: kindKey }));
    if (kindKey === 'secrets') validateSecret(obj);
    delete obj.metadata.resourceVersion;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = now();
    obj.metadata.managedFields = [{ manager: q.get('fieldManager') ?? 'kubectl', operation: 'Update', apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {} }];
    if (kindKey === 'deployments') obj.metadata.generation = 1;
    if (q.get('dryRun') === 'All') return send(res, 201, obj);
    putObject(kindKey, obj);
    notify(kindKey, 'ADDED', obj);
    return send(res, 201, obj);
  }
  const cur = store[kindKey].get(k);
  if (!cur) return send(res, 404, notFound(kindKey, name, group));
  if (req.method === 'DELETE') {
    store[kindKey].delete(k);
    nextRv();
    notify(kindKey, 'DELETED', cur);
    return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: group || undefined, kind: kindKey, uid: cur.metadata.uid } });
  }
  let next;
  if (req.method === 'PUT') {
    next = parseBody(req, body);
    if (next.metadata?.name !== name) return send(res, 400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL'));
    if (next.metadata.resourceVersion && next.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      return send(res, 409, status(409, 'Conflict', `Operation cannot be fulfilled on ${kindKey}${group ? '.' + group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: group || undefined, kind: kindKey }));
    }
    next.apiVersion = apiVersion;
    next.kind = kindName;
    next.status = cur.status;
  } else if (req.method === 'PATCH') {
    const type = String(req.headers['content-type'] ?? '');
    const patch = JSON.parse(body.toString('utf8') || '{}');
    if (type.includes('json-patch')) next = jsonPatch(cur, patch);
    else next = mergePatch(cur, patch);
    const wantRv = Array.isArray(patch) ? undefined : patch?.metadata?.resourceVersion;
    if (wantRv && wantRv !== cur.metadata.resourceVersion) {
      return send(res, 409, status(409, 'Conflict', `Operation cannot be fulfilled on ${kindKey}${group ? '.' + group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: group || undefined, kind: kindKey }));
    }
  } else return send(res, 405, status(405, 'MethodNotAllowed', 'method not allowed'));
  // System-owned fields stay as they are.
  next.metadata = { ...next.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, namespace: ns, name, resourceVersion: cur.metadata.resourceVersion, generation: cur.metadata.generation, managedFields: cur.metadata.managedFields };
  if (kindKey === 'secrets') {
    validateSecret(next);
    if (next.type !== cur.type) return send(res, 422, status(422, 'Invalid', `Secret "${name}" is invalid: type: Invalid value: "${next.type}": field is immutable`, { name, kind: 'Secret' }));
  }
  const specChanged = kindKey === 'deployments' && JSON.stringify(next.spec) !== JSON.stringify(cur.spec);
  if (JSON.stringify(next) === JSON.stringify(cur)) return send(res, 200, cur); // a no-op keeps the resourceVersion
  if (specChanged) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
  if (q.get('dryRun') === 'All') return send(res, 200, next);
  putObject(kindKey, next);
  notify(kindKey, 'MODIFIED', next);
  if (specChanged) {
    const t = tenants.find((x) => x.namespace === ns && x.deployment === name);
    if (t) rollout(t).catch((err) => log(`rollout error: ${err.message}`));
  }
  return send(res, 200, next);
}

function watch(req, res, url, kindKey, ns, initial) {
  const q = url.searchParams;
  const since = Number(q.get('resourceVersion') ?? 0);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  const w = {
    kindKey,
    match: (o) => (!ns || o.metadata.namespace === ns) && labelMatch(q.get('labelSelector'), o.metadata.labels) && fieldMatch(q.get('fieldSelector'), o),
    send: (type, obj) => res.write(JSON.stringify({ type, object: obj }) + '\n'),
  };
  // Changes after the requested resourceVersion that happened before the watch began.
  if (since === 0) for (const o of initial) w.send('ADDED', o);
  else for (const o of initial) if (Number(o.metadata.resourceVersion) > since) w.send('MODIFIED', o);
  watchers.add(w);
  const timeout = setTimeout(() => res.end(), Math.min(Number(q.get('timeoutSeconds') ?? 300), 600) * 1000);
  const close = () => { clearTimeout(timeout); watchers.delete(w); };
  req.on('close', close);
  res.on('close', close);
}

// ---------------------------------------------------------------- control API
async function control(req, res, url, body) {
  const p = url.pathname;
  const input = body.length ? JSON.parse(body.toString('utf8')) : {};
  if (p === '/_sandbox/state') {
    return send(res, 200, {
      resourceVersion: String(rv),
      namespaces: [...store.namespaces.values()], secrets: [...store.secrets.values()], deployments: [...store.deployments.values()],
      tenants: tenants.map((t) => ({ namespace: t.namespace, secret: t.secret, deployment: t.deployment, endpoint: t.endpoint, pod: t.pod?.name, pid: t.pod?.pid })),
    });
  }
  if (p === '/_sandbox/tenants') return send(res, 200, tenants.map((t) => ({ namespace: t.namespace, secret: t.secret, deployment: t.deployment, endpoint: t.endpoint, pod: t.pod?.name, pid: t.pod?.pid })));
  if (p === '/_sandbox/requests') return send(res, 200, requestLog);
  if (p === '/_sandbox/faults' && req.method === 'POST') {
    const f = { id: randomUUID(), ...input, remaining: input.times ?? 1 };
    faults.push(f);
    return send(res, 200, { id: f.id });
  }
  if (p === '/_sandbox/faults' && req.method === 'GET') return send(res, 200, faults);
  if (p === '/_sandbox/faults' && req.method === 'DELETE') {
    faults.length = 0;
    return send(res, 200, {});
  }
  if (p === '/_sandbox/rollout') {
    if (input.delayMs !== undefined && !input.deployment) rolloutDelayMs = input.delayMs;
    else rolloutModes.set(key(input.namespace, input.deployment), { mode: input.mode ?? 'complete', delayMs: input.delayMs });
    return send(res, 200, {});
  }
  if (p === '/_sandbox/authz') {
    if (input.reset) { authz.deny.length = 0; authz.readOnlyUsers.clear(); }
    if (input.readOnly) authz.readOnlyUsers.add(input.user ?? ADMIN);
    for (const d of input.deny ?? []) authz.deny.push({ user: input.user ?? ADMIN, ...d });
    return send(res, 200, {});
  }
  if (p === '/_sandbox/tenant-tls') {
    const t = tenants.find((x) => x.namespace === input.namespace);
    const dep = store.deployments.get(key(t.namespace, t.deployment));
    const env = [];
    if (input.min) env.push({ name: 'TLS_MIN_VERSION', value: input.min });
    if (input.max) env.push({ name: 'TLS_MAX_VERSION', value: input.max });
    const next = clone(dep);
    next.spec.template.spec.containers[0].env = env;
    next.metadata.generation++;
    putObject('deployments', next);
    notify('deployments', 'MODIFIED', next);
    await rollout(t);
    return send(res, 200, {});
  }
  return send(res, 404, { error: `unknown control path ${p}` });
}

// ---------------------------------------------------------------- start
const specs = [];
const count = Number(opt('--tenants', '0'));
for (let i = 1; i <= count; i++) specs.push([`tenant-${i}`, 'xsoar-tls', 'xsoar-proxy']);
for (const s of all('--tenant')) {
  const [ns, secret = 'xsoar-tls', dep = 'xsoar-proxy'] = s.split('/');
  specs.push([ns, secret, dep]);
}
if (specs.length === 0) specs.push(['xsoar', 'xsoar-tls', 'xsoar-proxy']);
for (const ns of ['default', 'kube-system', 'kube-public']) putObject('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: randomUUID(), creationTimestamp: now() }, status: { phase: 'Active' } });

await new Promise((r) => server.listen(PORT, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
// Seed certificates are made once per namespace name (openssl is the slow part); pods start in parallel.
const seeded = specs.map(([ns, s, d]) => seedTenant(ns, s, d));
await Promise.all(seeded.map(async ({ t, dep }) => {
  t.pod = await startPod(t, dep);
  dep.status = availableStatus(dep);
  await startService(t);
}));
const kubeconfig = path.join(DIR, 'kubeconfig');
writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: ${url}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox-admin
current-context: sandbox
users:
- name: sandbox-admin
  user: {}
`, { mode: 0o600 });

const shutdown = () => {
  for (const t of tenants) {
    t.pod?.stop();
    t.service?.close();
  }
  server.close();
  if (argv.includes('--clean')) rmSync(DIR, { recursive: true, force: true });
  setTimeout(() => process.exit(0), 50);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdout.write(JSON.stringify({ ready: true, url, kubeconfig, context: 'sandbox', pid: process.pid, tenants: tenants.map((t) => ({ namespace: t.namespace, secret: t.secret, deployment: t.deployment, endpoint: t.endpoint })) }) + '\n');
