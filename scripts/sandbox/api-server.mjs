// The sandbox's HTTP API server: the subset of the Kubernetes REST API that the
// real kubectl uses for secrets, namespaces, deployments (incl. the rollout
// status watch), pods (read-only) and `auth can-i`, plus the /_sandbox control
// API tests use for state, faults, rollout modes, authorization and TLS env.
// Request shapes and answers follow ../../../shared/kubectl-http-trace.md.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { decodeK8sProtobuf, encodeField } from './protobuf.mjs';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.mjs';
import { sameObject } from './store.mjs';
import {
  RESOURCES,
  findResource,
  aggregatedDiscovery,
  apiVersions,
  apiGroupList,
  apiResourceList,
  openapiV3Doc,
  openapiV3Index,
  openapiV2Proto,
  status,
  qualifiedResource,
  details,
  table,
} from './k8s-shapes.mjs';

export const ADMIN_USER = 'sandbox-admin';
const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const ALL_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const MAX_SECRET_BYTES = 1024 * 1024;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const KNOWN_TOP = {
  Secret: ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable'],
  Namespace: ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
  Deployment: ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
};
const KNOWN_META = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

/** An error that becomes a metav1.Status response. */
export class ApiError extends Error {
  /** @param {number} code @param {string} reason @param {string} message @param {Record<string, any>} [det] */
  constructor(code, reason, message, det) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = det;
  }
}

const REASONS = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};
const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * @typedef {{ id: string, match: { method?: string, path?: string, userAgent?: string }, nth: number, times: number,
 *   action: 'status'|'drop'|'delay', status?: number, reason?: string, message?: string, delayMs?: number, retryAfter?: number, seen: number, fired: number, settled: number }} Fault
 * @typedef {{ deny: Array<{ verb: string, resource: string, namespace?: string, scope?: 'cluster' }>, readOnly: boolean }} Policy
 */

/**
 * @param {{ store: import('./store.mjs').Store, controller: import('./pods.mjs').Controller, dir: string,
 *   address: () => string, log?: (line: string) => void, tls?: { key: Buffer, cert: Buffer }, token?: string }} ctx
 *
 * With `tls` the API is served over HTTPS (client-go sends credentials only to TLS servers:
 * kubectl-http-trace.md §1.2) and `control` is a plain-HTTP server for /_sandbox alone; with
 * `token` every API request must carry `Authorization: Bearer <token>` (else 401), which is how a
 * test proves that kubectl's own authentication (an exec plugin, say) reached the server.
 */
export function createApiServer(ctx) {
  const { store, controller } = ctx;
  /** @type {Fault[]} */
  let faults = [];
  let faultSeq = 0;
  /** @type {Map<string, Policy>} */
  const policies = new Map();
  /** @type {any[]} */
  const requestLog = [];
  const logStream = fs.createWriteStream(`${ctx.dir}/requests.log`, { flags: 'a', mode: 0o600 });
  /** @type {Set<import('node:http').ServerResponse>} */
  const watchers = new Set();

  /** @param {'both'|'api'|'control'} serves @returns {http.RequestListener} */
  const listener = (serves) => (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const userAgent = String(req.headers['user-agent'] ?? '');
    const control = url.pathname.startsWith('/_sandbox/');
    if (serves !== 'both' && (serves === 'control') !== control)
      return sendStatus(res, new ApiError(404, 'NotFound', 'the server could not find the requested resource'));
    if (!control && ctx.token && req.headers.authorization !== `Bearer ${ctx.token}`)
      return sendStatus(res, new ApiError(401, 'Unauthorized', 'Unauthorized'));
    res.on('close', () => {
      if (control) return;
      const entry = {
        time: new Date(started).toISOString(),
        method: req.method,
        path: url.pathname,
        query: url.search.slice(1),
        userAgent,
        user: identity(req),
        status: res.headersSent ? res.statusCode : 0,
        ms: Date.now() - started,
      };
      requestLog.push(entry);
      if (requestLog.length > 20000) requestLog.shift();
      logStream.write(JSON.stringify(entry) + '\n');
    });
    res.on('error', (err) =>
      process.stderr.write(`sandbox: response error on ${req.method} ${url.pathname}: ${err.message}\n`),
    );
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      handle(req, res, url, body, userAgent, control).catch((err) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const e =
          err instanceof ApiError
            ? err
            : new ApiError(500, 'InternalError', `Internal error occurred: ${err?.message ?? err}`);
        if (!(err instanceof ApiError)) process.stderr.write(`sandbox: ${err?.stack ?? err}\n`);
        sendStatus(res, e);
      });
    });
  };
  const server = ctx.tls
    ? https.createServer({ key: ctx.tls.key, cert: ctx.tls.cert }, listener('api'))
    : http.createServer(listener('both'));
  server.keepAliveTimeout = 30000;
  const control = ctx.tls ? http.createServer(listener('control')) : undefined;

  /** @param {import('node:http').IncomingMessage} req */
  function identity(req) {
    const as = req.headers['impersonate-user'];
    return (Array.isArray(as) ? as[0] : as) || ADMIN_USER;
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   * @param {Buffer} body
   * @param {string} userAgent
   * @param {boolean} control
   */
  async function handle(req, res, url, body, userAgent, control) {
    if (control) return handleControl(req, res, url, body);
    const fault = pickFault(req.method ?? 'GET', url, userAgent);
    if (fault) {
      if (fault.action === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.action === 'delay') await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
      else {
        const code = fault.status ?? 500;
        const headers = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
        sendStatus(
          res,
          new ApiError(
            code,
            fault.reason ?? /** @type {any} */ (REASONS)[code] ?? 'InternalError',
            fault.message ?? 'Internal error occurred: sandbox injected fault',
          ),
          headers,
        );
        return;
      }
    }
    if (fault?.action !== 'delay') return route(req, res, url, body);
    // A held request still reaches the store when its client has long given up: `settled` counts
    // those that have, so a test can wait for them instead of sleeping out every delay.
    try {
      return await route(req, res, url, body);
    } finally {
      fault.settled += 1;
    }
  }

  // ---------- faults ----------

  /** @type {WeakMap<Fault, Map<string, RegExp>>} */
  const faultPatterns = new WeakMap();
  /**
   * A fault's pattern, compiled once rather than on every request (kept outside the fault, so
   * its JSON stays as posted).
   * @param {Fault} f @param {string} source
   */
  function pattern(f, source) {
    let m = faultPatterns.get(f);
    if (!m) faultPatterns.set(f, (m = new Map()));
    let re = m.get(source);
    if (!re) m.set(source, (re = new RegExp(source)));
    return re;
  }

  /** @param {string} method @param {URL} url @param {string} userAgent */
  function pickFault(method, url, userAgent) {
    let chosen;
    for (const f of faults) {
      // The gcloud dispatcher's /version probe is invisible to faults unless they ask for it by user agent.
      if (!f.match.userAgent && userAgent.startsWith('kubectl-dispatcher')) continue;
      if (f.match.method && f.match.method.toUpperCase() !== method) continue;
      if (f.match.path) {
        const re = pattern(f, f.match.path);
        if (!re.test(url.pathname) && !re.test(url.pathname + url.search)) continue;
      }
      if (f.match.userAgent && !pattern(f, f.match.userAgent).test(userAgent)) continue;
      f.seen += 1;
      const active = f.seen >= f.nth && (f.times < 0 || f.seen < f.nth + f.times);
      if (active && !chosen) {
        f.fired += 1;
        chosen = f;
      }
    }
    return chosen;
  }

  // ---------- control API ----------

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   * @param {Buffer} body
   */
  async function handleControl(req, res, url, body) {
    const input = body.length ? JSON.parse(body.toString('utf8')) : {};
    const what = `${req.method} ${url.pathname}`;
    switch (what) {
      case 'GET /_sandbox/state':
        return sendJson(res, 200, {
          resourceVersion: String(store.rv),
          namespaces: store
            .view('namespaces')
            .map((n) => ({ name: n.metadata.name, phase: n.status?.phase, labels: n.metadata.labels ?? {} })),
          secrets: store.view('secrets'),
          deployments: store.view('deployments'),
          pods: store.view('pods'),
          tenants: controller.tenantState(),
          faults,
          policies: Object.fromEntries(policies),
        });
      case 'GET /_sandbox/requests':
        return sendJson(res, 200, requestLog);
      case 'DELETE /_sandbox/requests':
        requestLog.length = 0;
        return sendJson(res, 200, { ok: true });
      case 'POST /_sandbox/faults': {
        if (!['status', 'drop', 'delay'].includes(input.action))
          throw new ApiError(400, 'BadRequest', 'fault action must be status, drop or delay');
        if (input.match?.path) new RegExp(input.match.path);
        const f = {
          id: `fault-${++faultSeq}`,
          match: input.match ?? {},
          nth: input.nth ?? 1,
          times: input.times ?? 1,
          action: input.action,
          status: input.status,
          reason: input.reason,
          message: input.message,
          delayMs: input.delayMs,
          retryAfter: input.retryAfter,
          seen: 0,
          fired: 0,
          settled: 0,
        };
        faults.push(f);
        return sendJson(res, 201, { id: f.id });
      }
      case 'GET /_sandbox/faults':
        return sendJson(res, 200, faults);
      case 'DELETE /_sandbox/faults':
        faults = [];
        return sendJson(res, 200, { ok: true });
      case 'POST /_sandbox/rollout':
        controller.setRolloutMode(input);
        return sendJson(res, 200, { ok: true });
      case 'POST /_sandbox/authz': {
        // Calls add up per user (denies append, readOnly sticks) until {reset:true}
        // clears that user's policy, or every policy when no user is given.
        const user = input.user || ADMIN_USER;
        if (input.reset) {
          if (input.user) policies.delete(user);
          else policies.clear();
        }
        const denies = Array.isArray(input.deny) ? input.deny : [];
        if (denies.length || input.readOnly || !input.reset) {
          const pol = policies.get(user) ?? { deny: [], readOnly: false };
          pol.deny.push(...denies);
          pol.readOnly = pol.readOnly || Boolean(input.readOnly);
          policies.set(user, pol);
        }
        return sendJson(res, 200, { ok: true, user });
      }
      case 'POST /_sandbox/tenant-tls': {
        const result = await setTenantTls(input);
        return sendJson(res, 200, result);
      }
      default:
        throw new ApiError(404, 'NotFound', `no sandbox control endpoint ${what}`);
    }
  }

  /** Set TLS_MIN/MAX_VERSION in the tenant deployment's container env and wait for the restart. @param {any} input */
  async function setTenantTls(input) {
    const t = controller.tenants.find((x) => x.namespace === input.namespace);
    if (!t) throw new ApiError(404, 'NotFound', `no tenant in namespace ${input.namespace}`);
    const dep = store.get('deployments', t.namespace, t.deployment);
    if (!dep) throw new ApiError(404, 'NotFound', `deployments.apps "${t.deployment}" not found`);
    const c0 = dep.spec.template.spec.containers[0];
    const env = (c0.env ?? []).filter(
      (/** @type {any} */ e) => e.name !== 'TLS_MIN_VERSION' && e.name !== 'TLS_MAX_VERSION',
    );
    if (input.min) env.push({ name: 'TLS_MIN_VERSION', value: input.min });
    if (input.max) env.push({ name: 'TLS_MAX_VERSION', value: input.max });
    c0.env = env;
    dep.spec.template.metadata = dep.spec.template.metadata ?? {};
    dep.spec.template.metadata.annotations = {
      ...(dep.spec.template.metadata.annotations ?? {}),
      'sandbox.xsoar.local/tls-changed-at': new Date().toISOString(),
    };
    dep.metadata.generation = (dep.metadata.generation ?? 1) + 1;
    const saved = store.update('deployments', dep);
    const outcome = await controller.waitForRollout(t.namespace, t.deployment, saved.metadata.generation);
    return { ok: outcome === 'complete', outcome };
  }

  // ---------- routing ----------

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   * @param {Buffer} body
   */
  async function route(req, res, url, body) {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    // Aggregated discovery in the first version the client lists: v2 (kubectl >= 1.30)
    // or v2beta1 (1.26-1.29, which do not understand v2); otherwise legacy discovery.
    const aggregated = accept
      .split(',')
      .map((m) => m.replace(/\s+/g, ''))
      .filter((m) => m.includes('g=apidiscovery.k8s.io') && m.includes('as=APIGroupDiscoveryList'))
      .map((m) => /(?:^|;)v=(v2beta1|v2)(?:;|$)/.exec(m)?.[1])
      .find(Boolean);
    const discoveryType = `application/json;g=apidiscovery.k8s.io;v=${aggregated};as=APIGroupDiscoveryList`;
    const discovery = (/** @type {boolean} */ core) => ({
      ...aggregatedDiscovery(core),
      apiVersion: `apidiscovery.k8s.io/${aggregated}`,
    });
    if (method === 'GET') {
      if (p === '/version') {
        return sendJson(res, 200, {
          major: '1',
          minor: '32',
          gitVersion: 'v1.32.4-sandbox',
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2025-01-01T00:00:00Z',
          goVersion: 'go1.23.6',
          compiler: 'gc',
          platform: 'linux/amd64',
        });
      }
      if (p === '/healthz' || p === '/readyz' || p === '/livez') return sendText(res, 200, 'ok');
      if (p === '/api')
        return aggregated
          ? sendJson(res, 200, discovery(true), discoveryType)
          : sendJson(res, 200, apiVersions(ctx.address()));
      if (p === '/apis')
        return aggregated ? sendJson(res, 200, discovery(false), discoveryType) : sendJson(res, 200, apiGroupList());
      if (p === '/api/v1') return sendJson(res, 200, apiResourceList(''));
      const gv = /^\/apis\/([^/]+)\/v1$/.exec(p);
      if (gv && RESOURCES.some((r) => r.group === gv[1])) return sendJson(res, 200, apiResourceList(gv[1]));
      if (p === '/openapi/v3') return sendJson(res, 200, openapiV3Index());
      if (p === '/openapi/v2') {
        // Protobuf only, as kubectl asks for it. The Content-Type spells the
        // version with a dot: Go's mime parser rejects the '@' kubectl sends.
        const doc = openapiV2Proto(encodeField);
        res.writeHead(200, {
          'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf',
          'Content-Length': doc.length,
        });
        res.end(doc);
        return;
      }
      const oa = /^\/openapi\/v3\/(api\/v1|apis\/([^/]+)\/v1)$/.exec(p);
      if (oa && (oa[1] === 'api/v1' || RESOURCES.some((r) => r.group === oa[2])))
        return sendJson(res, 200, openapiV3Doc(oa[2] ?? ''));
    }
    // /api/v1/... or /apis/G/v1/...
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/(v1))\/(.*)$/.exec(p);
    if (!m) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3];
    const parts = m[4].split('/');
    let ns = '';
    if (parts[0] === 'namespaces' && parts.length >= 3) {
      ns = parts[1];
      parts.splice(0, 2);
    }
    const info = findResource(group, version, parts[0]);
    if (!info) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (ns && !info.namespaced) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const name = parts[1] ? decodeURIComponent(parts[1]) : '';
    const sub = parts[2] ?? '';
    if (parts.length > 3 || (sub && !(info.subresources ?? []).some((s) => s.subresource === sub)))
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const q = url.searchParams;
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb =
      method === 'GET'
        ? name
          ? 'get'
          : watch
            ? 'watch'
            : 'list'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? name
                  ? 'delete'
                  : 'deletecollection'
                : '';
    if (!verb || !info.verbs.includes(verb === 'deletecollection' ? 'delete' : verb)) {
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    const user = identity(req);
    checkAuthz(user, verb, info, ns, name, sub);

    if (info.group === 'authorization.k8s.io' || info.group === 'authentication.k8s.io')
      return review(res, info, parseBody(req, body, info), user);
    if (info.namespaced && ns === '' && verb !== 'list' && verb !== 'watch')
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const asTable = accept.includes('as=Table');
    switch (verb) {
      case 'get': {
        const obj = store.peek(info.resource, ns, name);
        if (!obj) throw notFound(info, name);
        if (sub === 'scale') return sendJson(res, 200, scaleOf(obj));
        return asTable
          ? sendJson(res, 200, table(info.resource, [obj], obj.metadata.resourceVersion))
          : sendJson(res, 200, obj);
      }
      case 'list':
        return list(res, info, ns, q, asTable, accept.includes('as=PartialObjectMetadataList'));
      case 'watch':
        return watchStream(req, res, info, ns, q, asTable);
      case 'create':
        return create(req, res, info, ns, body, q);
      case 'update':
      case 'patch':
        return update(req, res, info, ns, name, sub, body, q, verb);
      case 'delete':
        return remove(res, info, ns, name, q);
      default:
        throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  // ---------- authorization ----------

  /** @param {string} user @param {string} verb @param {string} resource @param {string} ns */
  function allowed(user, verb, resource, ns) {
    const pol = policies.get(user);
    if (!pol) return true;
    if (pol.readOnly && WRITE_VERBS.includes(verb) && !resource.startsWith('selfsubject')) return false;
    // scope 'cluster': only requests across all namespaces (a user with namespaced roles only).
    return !pol.deny.some(
      (d) =>
        (d.verb === '*' || d.verb === verb) &&
        (d.resource === '*' || d.resource === resource) &&
        (d.scope === 'cluster' ? ns === '' : !d.namespace || d.namespace === ns),
    );
  }

  /**
   * @param {string} user @param {string} verb @param {import('./k8s-shapes.mjs').ResourceInfo} info
   * @param {string} ns @param {string} name @param {string} sub
   */
  function checkAuthz(user, verb, info, ns, name, sub) {
    if (info.resource.startsWith('selfsubject')) return;
    const res = sub ? `${info.resource}/${sub}` : info.resource;
    if (allowed(user, verb, res, ns) && (!sub || allowed(user, verb, info.resource, ns))) return;
    const where = ns ? `in the namespace "${ns}"` : 'at the cluster scope';
    const subject = name ? `${qualifiedResource(info)} "${name}"` : qualifiedResource(info);
    throw new ApiError(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${user}" cannot ${verb} resource "${res}" in API group "${info.group}" ${where}`,
      details(info, name),
    );
  }

  /** SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview. */
  function review(
    /** @type {import('node:http').ServerResponse} */ res,
    /** @type {any} */ info,
    /** @type {any} */ obj,
    /** @type {string} */ user,
  ) {
    const out = {
      apiVersion: `${info.group}/v1`,
      kind: info.kind,
      metadata: { creationTimestamp: null },
      ...(obj.spec ? { spec: obj.spec } : {}),
    };
    if (info.resource === 'selfsubjectaccessreviews') {
      const ra = obj.spec?.resourceAttributes;
      let ok = true;
      if (ra) {
        const res2 = ra.subresource ? `${ra.resource}/${ra.subresource}` : ra.resource;
        ok =
          allowed(user, ra.verb, res2, ra.namespace ?? '') &&
          (ra.verb === '*' || allowed(user, ra.verb, ra.resource, ra.namespace ?? ''));
        if (ok && ra.verb === '*') ok = ALL_VERBS.every((v) => allowed(user, v, res2, ra.namespace ?? ''));
      } else if (obj.spec?.nonResourceAttributes)
        ok = !policies.get(user)?.readOnly || obj.spec.nonResourceAttributes.verb === 'get';
      // Real RBAC gives no reason on a denial, so kubectl prints a bare "no".
      return sendJson(res, 201, {
        ...out,
        status: ok ? { allowed: true, reason: `sandbox: user "${user}" is allowed` } : { allowed: false },
      });
    }
    if (info.resource === 'selfsubjectrulesreviews')
      return sendJson(res, 201, { ...out, status: rulesFor(user, obj.spec?.namespace ?? '') });
    return sendJson(res, 201, {
      ...out,
      status: {
        userInfo: {
          username: user,
          groups: user === ADMIN_USER ? ['system:masters', 'system:authenticated'] : ['system:authenticated'],
        },
      },
    });
  }

  /** The rules a user has in a namespace, consistent with allowed(). @param {string} user @param {string} ns */
  function rulesFor(user, ns) {
    const base = [
      {
        verbs: ['create'],
        apiGroups: ['authorization.k8s.io'],
        resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
      },
      { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
    ];
    if (!policies.has(user)) {
      return {
        resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, ...base],
        nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
        incomplete: false,
      };
    }
    /** @type {any[]} */
    const rules = [...base];
    for (const r of RESOURCES.filter((x) => !x.resource.startsWith('selfsubject'))) {
      for (const name of [r.resource, ...(r.subresources ?? []).map((s) => `${r.resource}/${s.subresource}`)]) {
        const verbs = ALL_VERBS.filter(
          (v) => allowed(user, v, name, ns) && (name === r.resource || allowed(user, v, r.resource, ns)),
        );
        if (verbs.length) rules.push({ verbs, apiGroups: [r.group], resources: [name] });
      }
    }
    return {
      resourceRules: rules,
      nonResourceRules: [
        {
          verbs: ['get'],
          nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/version', '/openapi', '/openapi/*'],
        },
      ],
      incomplete: false,
    };
  }

  // ---------- reads ----------

  /**
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info
   * @param {URLSearchParams} q
   */
  function selectorFilter(info, q) {
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(info, q.get('fieldSelector') ?? '');
    return (/** @type {any} */ o) => labels(o.metadata.labels ?? {}) && fields(o);
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info
   * @param {string} ns
   * @param {URLSearchParams} q
   * @param {boolean} asTable
   * @param {boolean} [metadataOnly] `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`:
   *   names, labels and annotations without the objects' contents (as the apiserver answers it since 1.15)
   */
  function list(res, info, ns, q, asTable, metadataOnly = false) {
    const keep = selectorFilter(info, q);
    let items = store.view(info.resource, ns).filter(keep);
    const after = q.get('continue');
    if (after) {
      let key;
      try {
        key = Buffer.from(after, 'base64url').toString('utf8');
      } catch {
        throw new ApiError(400, 'BadRequest', 'continue key is not valid');
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > key);
    }
    const limit = Number(q.get('limit') ?? 0);
    let cont;
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      const last = items[items.length - 1];
      cont = Buffer.from(`${last.metadata.namespace ?? ''}/${last.metadata.name}`).toString('base64url');
    }
    const rv = String(store.rv);
    if (asTable) return sendJson(res, 200, table(info.resource, items, rv, cont));
    if (metadataOnly)
      return sendJson(res, 200, {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) },
        items: items.map((o) => ({
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: o.metadata,
        })),
      });
    return sendJson(res, 200, {
      kind: info.listKind,
      apiVersion: info.group ? `${info.group}/${info.version}` : info.version,
      metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) },
      items: items.map(({ apiVersion, kind, ...rest }) => rest),
    });
  }

  /**
   * A chunked watch stream: one JSON event per line, for every change after
   * the requested resourceVersion, until timeoutSeconds.
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info
   * @param {string} ns
   * @param {URLSearchParams} q
   * @param {boolean} asTable `kubectl get -w` asks for one single-row Table per event
   */
  function watchStream(req, res, info, ns, q, asTable) {
    const keep = selectorFilter(info, q);
    const rvParam = q.get('resourceVersion') ?? '';
    const timeout = Math.min(Number(q.get('timeoutSeconds') ?? 1800) || 1800, 3600);
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    watchers.add(res);
    const matches = (/** @type {import('./store.mjs').StoreEvent} */ e) =>
      e.resource === info.resource && (!ns || e.object.metadata.namespace === ns) && keep(e.object);
    // A write after the stream ended (timeout) or the client left would emit an
    // 'error' nobody handles: skip it instead.
    res.on('error', () => {});
    const send = (/** @type {string} */ type, /** @type {any} */ object) =>
      !res.writableEnded &&
      !res.destroyed &&
      res.write(
        JSON.stringify({
          type,
          object:
            asTable && type !== 'ERROR' ? table(info.resource, [object], object.metadata.resourceVersion) : object,
        }) + '\n',
      );
    if (rvParam === '' || rvParam === '0') {
      for (const o of store.view(info.resource, ns).filter(keep)) send('ADDED', o);
    } else {
      const rv = Number(rvParam);
      if (!Number.isFinite(rv) || rv < store.oldestWatchableRv()) {
        send('ERROR', status(410, 'Expired', `too old resource version: ${rvParam} (${store.oldestWatchableRv()})`));
        res.end();
        watchers.delete(res);
        return;
      }
      for (const e of store.eventsSince(rv)) if (matches(e)) send(e.type, e.object);
    }
    const unsubscribe = store.subscribe((e) => {
      if (matches(e)) send(e.type, e.object);
    });
    const timer = setTimeout(() => res.end(), timeout * 1000);
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      watchers.delete(res);
    };
    // Only the response's close means the client went away (a request's
    // 'close' fires as soon as its empty body has been read).
    res.on('close', done);
    void req;
  }

  // ---------- writes ----------

  /**
   * Decode a request body (JSON or kubectl's protobuf) into an object.
   * @param {import('node:http').IncomingMessage} req
   * @param {Buffer} body
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info
   */
  function parseBody(req, body, info) {
    const type = String(req.headers['content-type'] ?? 'application/json');
    if (type.startsWith('application/vnd.kubernetes.protobuf')) {
      try {
        return decodeK8sProtobuf(body);
      } catch (err) {
        throw new ApiError(
          400,
          'BadRequest',
          `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${/** @type {Error} */ (err).message}`,
        );
      }
    }
    try {
      return JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new ApiError(
        400,
        'BadRequest',
        `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: json parse error: ${/** @type {Error} */ (err).message}`,
      );
    }
  }

  /**
   * Field validation (Strict → 400, Warn → Warning header) on the fields this sandbox knows.
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {any} obj @param {URLSearchParams} q @param {import('node:http').ServerResponse} res
   */
  function validateFields(info, obj, q, res) {
    const known = /** @type {Record<string, string[]>} */ (KNOWN_TOP)[info.kind];
    if (!known || typeof obj !== 'object' || obj === null) return;
    const unknown = [
      ...Object.keys(obj).filter((k) => !known.includes(k)),
      ...Object.keys(obj.metadata ?? {})
        .filter((k) => !KNOWN_META.includes(k))
        .map((k) => `metadata.${k}`),
    ];
    if (!unknown.length) return;
    const mode = q.get('fieldValidation') ?? 'Warn';
    if (mode === 'Strict') {
      throw new ApiError(
        400,
        'BadRequest',
        `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`,
      );
    }
    if (mode === 'Warn')
      res.setHeader(
        'Warning',
        unknown.map((u) => `299 - "unknown field \\"${u}\\""`),
      );
  }

  /**
   * Kind-specific defaulting and validation (422/400), as the apiserver's strategies do.
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {any} obj @param {any} [old]
   */
  function normalize(info, obj, old) {
    const name = obj.metadata.name;
    /** @type {Array<{ field: string, msg: string, type: string }>} */
    const errs = [];
    if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
      errs.push({
        field: 'metadata.name',
        type: 'FieldValueInvalid',
        msg: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      });
    }
    if (info.kind === 'Secret') {
      obj.type = obj.type || 'Opaque';
      for (const [k, v] of Object.entries(obj.data ?? {})) {
        // A value the stored secret already holds passed this check when it was stored.
        if (typeof v === 'string' && old?.data && Object.hasOwn(old.data, k) && old.data[k] === v) continue;
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
          throw new ApiError(
            400,
            'BadRequest',
            `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${Math.max(0, String(v).search(/[^A-Za-z0-9+/=]/))}`,
          );
        }
        void k;
      }
      if (obj.stringData) {
        obj.data = { ...(obj.data ?? {}) };
        for (const [k, v] of Object.entries(obj.stringData))
          obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
        delete obj.stringData;
      }
      let size = 0;
      for (const [k, v] of Object.entries(obj.data ?? {})) {
        // Every value is well-formed base64 by now, so its decoded length needs no decoding.
        size += Buffer.byteLength(/** @type {string} */ (v), 'base64');
        if (!CONFIG_KEY.test(k) || k.length > 253) {
          errs.push({
            field: `data[${k}]`,
            type: 'FieldValueInvalid',
            msg: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
          });
        }
      }
      if (size > MAX_SECRET_BYTES)
        errs.push({
          field: 'data',
          type: 'FieldValueTooLong',
          msg: `Too long: must have at most ${MAX_SECRET_BYTES} bytes`,
        });
      if (obj.type === 'kubernetes.io/tls') {
        for (const k of ['tls.crt', 'tls.key'])
          if (!(obj.data ?? {})[k] && (obj.data ?? {})[k] !== '')
            errs.push({ field: `data[${k}]`, type: 'FieldValueRequired', msg: 'Required value' });
      }
      if (old) {
        if (old.type !== obj.type)
          errs.push({
            field: 'type',
            type: 'FieldValueInvalid',
            msg: `Invalid value: "${obj.type}": field is immutable`,
          });
        if (old.immutable && JSON.stringify(old.data ?? {}) !== JSON.stringify(obj.data ?? {}))
          errs.push({
            field: 'data',
            type: 'FieldValueForbidden',
            msg: 'Forbidden: field is immutable when `immutable` is set',
          });
        if (old.immutable && !obj.immutable)
          errs.push({
            field: 'immutable',
            type: 'FieldValueForbidden',
            msg: 'Forbidden: field is immutable when `immutable` is set',
          });
      }
    }
    if (info.kind === 'Namespace') {
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
      obj.spec = obj.spec ?? { finalizers: ['kubernetes'] };
      obj.status = old?.status ?? { phase: 'Active' };
    }
    if (info.kind === 'Deployment') {
      if (!obj.spec?.template?.spec?.containers?.length)
        errs.push({ field: 'spec.template.spec.containers', type: 'FieldValueRequired', msg: 'Required value' });
      else {
        obj.spec.replicas = obj.spec.replicas ?? 1;
        obj.spec.progressDeadlineSeconds = obj.spec.progressDeadlineSeconds ?? 600;
      }
    }
    if (errs.length) {
      const msg =
        errs.length === 1
          ? `${errs[0].field}: ${errs[0].msg}`
          : `[${errs.map((e) => `${e.field}: ${e.msg}`).join(', ')}]`;
      throw new ApiError(422, 'Invalid', `${info.kind} "${name}" is invalid: ${msg}`, {
        name,
        ...(info.group ? { group: info.group } : {}),
        kind: info.kind,
        causes: errs.map((e) => ({ reason: e.type, message: e.msg, field: e.field })),
      });
    }
  }

  /** @param {string} ns @param {string} forName @param {import('./k8s-shapes.mjs').ResourceInfo} info */
  function requireNamespace(ns, forName, info) {
    const nsObj = store.peek('namespaces', '', ns);
    if (!nsObj) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (nsObj.status?.phase === 'Terminating') {
      throw new ApiError(
        403,
        'Forbidden',
        `${qualifiedResource(info)} "${forName}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        details(info, forName),
      );
    }
  }

  /** @param {any} obj @param {string} manager @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {any[]} [prev] */
  function managedFields(obj, manager, info, prev) {
    const entry = {
      manager: manager || 'unknown',
      operation: 'Update',
      apiVersion: info.group ? `${info.group}/${info.version}` : info.version,
      time: nowIso(),
      fieldsType: 'FieldsV1',
      fieldsV1: {},
    };
    obj.metadata.managedFields = [...(prev ?? []).filter((m) => m.manager !== entry.manager), entry];
  }

  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {string} ns @param {Buffer} body @param {URLSearchParams} q
   */
  async function create(req, res, info, ns, body, q) {
    const obj = parseBody(req, body, info);
    validateFields(info, obj, q, res);
    if (obj.kind && obj.kind !== info.kind)
      throw new ApiError(
        400,
        'BadRequest',
        `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: the body is a ${obj.kind}`,
      );
    obj.apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
    obj.kind = info.kind;
    obj.metadata = obj.metadata ?? {};
    if (info.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns)
        throw new ApiError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      obj.metadata.namespace = ns;
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = obj.metadata.generateName + Math.random().toString(36).slice(2, 7);
    if (!obj.metadata.name) {
      throw new ApiError(
        422,
        'Invalid',
        `${info.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
        {
          kind: info.kind,
          causes: [
            {
              reason: 'FieldValueRequired',
              message: 'Required value: name or generateName is required',
              field: 'metadata.name',
            },
          ],
        },
      );
    }
    const name = obj.metadata.name;
    if (info.namespaced) requireNamespace(ns, name, info);
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'selfLink'])
      delete obj.metadata[k];
    normalize(info, obj);
    if (store.peek(info.resource, ns, name))
      throw new ApiError(
        409,
        'AlreadyExists',
        `${qualifiedResource(info)} "${name}" already exists`,
        details(info, name),
      );
    if (info.kind === 'Deployment') {
      obj.metadata.generation = 1;
      obj.status = {};
    }
    managedFields(obj, q.get('fieldManager') ?? '', info);
    if (q.get('dryRun') === 'All')
      return sendJson(res, 201, { ...obj, metadata: { ...obj.metadata, uid: 'dry-run', creationTimestamp: nowIso() } });
    return sendJson(res, 201, store.create(info.resource, obj));
  }

  /**
   * PUT and PATCH: preconditions, system fields kept, no-op writes keep the resourceVersion.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {string} ns @param {string} name @param {string} sub
   * @param {Buffer} body @param {URLSearchParams} q @param {'update'|'patch'} verb
   */
  async function update(req, res, info, ns, name, sub, body, q, verb) {
    const old = store.get(info.resource, ns, name);
    if (!old) throw notFound(info, name);
    const conflict = () =>
      new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details(info, name),
      );
    let base = sub === 'scale' ? scaleOf(old) : old;
    /** @type {any} */
    let next;
    if (verb === 'update') {
      next = parseBody(req, body, info);
      validateFields(info, next, q, res);
    } else {
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim();
      let patch;
      try {
        patch = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new ApiError(400, 'BadRequest', `error decoding patch: ${/** @type {Error} */ (err).message}`);
      }
      try {
        if (type === 'application/strategic-merge-patch+json') next = applyStrategicMergePatch(base, patch);
        else if (type === 'application/merge-patch+json') next = applyMergePatch(base, patch);
        else if (type === 'application/json-patch+json') next = applyJsonPatch(base, patch);
        else
          throw new ApiError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
          );
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError(422, 'Invalid', `${info.kind} "${name}" is invalid: ${/** @type {Error} */ (err).message}`, {
          name,
          kind: info.kind,
        });
      }
      validateFields(info, next, q, res);
    }
    if (!next || typeof next !== 'object') throw new ApiError(400, 'BadRequest', 'the request body is not an object');
    next.metadata = next.metadata ?? {};
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw new ApiError(
        400,
        'BadRequest',
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    if (info.namespaced && next.metadata.namespace && next.metadata.namespace !== ns)
      throw new ApiError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    // A resourceVersion in the body (PUT) or the patch result acts as a precondition.
    const rv = next.metadata.resourceVersion;
    if (rv && rv !== base.metadata.resourceVersion) throw conflict();
    if (sub === 'scale') {
      const replicas = Number(next.spec?.replicas);
      if (!Number.isInteger(replicas) || replicas < 0)
        throw new ApiError(
          422,
          'Invalid',
          `Scale "${name}" is invalid: spec.replicas: Invalid value: ${next.spec?.replicas}: must be greater than or equal to 0`,
        );
      base = old;
      next = structuredClone(old);
      next.spec.replicas = replicas;
    }
    next.apiVersion = old.apiVersion;
    next.kind = old.kind;
    next.metadata.name = name;
    if (info.namespaced) next.metadata.namespace = ns;
    // System-owned fields cannot be changed by clients (creationTimestamp: null in a patch is a no-op).
    for (const k of ['uid', 'creationTimestamp', 'generation', 'selfLink', 'deletionTimestamp']) {
      if (old.metadata[k] === undefined) delete next.metadata[k];
      else next.metadata[k] = old.metadata[k];
    }
    next.metadata.managedFields = old.metadata.managedFields;
    if (info.kind === 'Deployment' && sub !== 'status') next.status = old.status;
    if (info.kind === 'Deployment' && sub === 'status') next.spec = old.spec;
    normalize(info, next, old);
    if (info.kind === 'Deployment' && JSON.stringify(next.spec) !== JSON.stringify(old.spec))
      next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (sameObject(old, next)) return sendJson(res, 200, sub === 'scale' ? scaleOf(old) : old);
    managedFields(next, q.get('fieldManager') ?? '', info, old.metadata.managedFields);
    if (q.get('dryRun') === 'All') return sendJson(res, 200, next);
    const saved = store.update(info.resource, next);
    return sendJson(res, 200, sub === 'scale' ? scaleOf(saved) : saved);
  }

  /**
   * @param {import('node:http').ServerResponse} res @param {import('./k8s-shapes.mjs').ResourceInfo} info
   * @param {string} ns @param {string} name @param {URLSearchParams} q
   */
  function remove(res, info, ns, name, q) {
    const old = store.get(info.resource, ns, name);
    if (!old) throw notFound(info, name);
    if (q.get('dryRun') === 'All')
      return sendJson(res, 200, status(200, '', '', { ...details(info, name), uid: old.metadata.uid }));
    if (info.kind === 'Namespace') {
      // Like the namespace controller: Terminating first, contents and the namespace itself gone shortly after.
      if (old.status?.phase !== 'Terminating') {
        old.status = { phase: 'Terminating' };
        old.metadata.deletionTimestamp = nowIso();
        const saved = store.update('namespaces', old);
        setTimeout(() => {
          for (const r of RESOURCES.filter((x) => x.namespaced))
            for (const o of store.view(r.resource, name)) store.delete(r.resource, name, o.metadata.name);
          store.delete('namespaces', '', name);
        }, 100).unref();
        return sendJson(res, 200, saved);
      }
      return sendJson(res, 200, old);
    }
    store.delete(info.resource, ns, name);
    return sendJson(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { ...details(info, name), uid: old.metadata.uid },
    });
  }

  server.on('close', () => {
    for (const w of watchers) w.destroy();
    logStream.end();
  });
  return {
    server,
    control,
    requestLog,
    closeWatchers: () => {
      for (const w of watchers) w.destroy();
    },
  };
}

// ---------- helpers ----------

/** @param {any} dep */
function scaleOf(dep) {
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: dep.metadata.name,
      namespace: dep.metadata.namespace,
      uid: dep.metadata.uid,
      resourceVersion: dep.metadata.resourceVersion,
      creationTimestamp: dep.metadata.creationTimestamp,
    },
    spec: { replicas: dep.spec?.replicas ?? 1 },
    status: {
      replicas: dep.status?.replicas ?? 0,
      selector: Object.entries(dep.spec?.selector?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    },
  };
}

/** @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {string} name */
function notFound(info, name) {
  return new ApiError(404, 'NotFound', `${qualifiedResource(info)} "${name}" not found`, details(info, name));
}

/**
 * Parse a label selector (=, ==, !=, in, notin, exists, !exists) into a predicate.
 * @param {string} sel
 */
export function parseLabelSelector(sel) {
  /** @type {Array<(l: Record<string,string>) => boolean>} */
  const preds = [];
  // Split on commas that are not inside parentheses.
  const terms = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) terms.push(cur);
  for (const raw of terms) {
    const t = raw.trim();
    let m;
    if ((m = /^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/.exec(t))) {
      const [, k, op, vals] = m;
      const set = vals.split(',').map((v) => v.trim());
      preds.push(op === 'in' ? (l) => k in l && set.includes(l[k]) : (l) => !(k in l) || !set.includes(l[k]));
    } else if ((m = /^([^\s!=]+)\s*!=\s*(.*)$/.exec(t))) {
      const [, k, v] = m;
      preds.push((l) => l[k] !== v.trim());
    } else if ((m = /^([^\s!=]+)\s*==?\s*(.*)$/.exec(t))) {
      const [, k, v] = m;
      preds.push((l) => l[k] === v.trim());
    } else if ((m = /^!\s*([^\s!=]+)$/.exec(t))) {
      const k = m[1];
      preds.push((l) => !(k in l));
    } else if (/^[^\s!=()]+$/.test(t)) preds.push((l) => t in l);
    else throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(t)}`);
  }
  return (/** @type {Record<string,string>} */ labels) => preds.every((p) => p(labels));
}

/** @param {import('./k8s-shapes.mjs').ResourceInfo} info @param {string} sel */
function parseFieldSelector(info, sel) {
  const fields = {
    'metadata.name': (/** @type {any} */ o) => o.metadata.name,
    'metadata.namespace': (/** @type {any} */ o) => o.metadata.namespace ?? '',
    ...(info.kind === 'Secret' ? { type: (/** @type {any} */ o) => o.type } : {}),
    ...(info.kind === 'Namespace' ? { 'status.phase': (/** @type {any} */ o) => o.status?.phase } : {}),
    ...(info.kind === 'Pod' ? { 'status.phase': (/** @type {any} */ o) => o.status?.phase } : {}),
  };
  /** @type {Array<(o: any) => boolean>} */
  const preds = [];
  for (const t of sel
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t);
    if (!m) throw new ApiError(400, 'BadRequest', `invalid field selector: ${t}`);
    const [, f, op, v] = m;
    const get = /** @type {Record<string, (o: any) => any>} */ (fields)[f];
    if (!get) throw new ApiError(400, 'BadRequest', `field label not supported: ${f}`);
    preds.push(op === '!=' ? (o) => get(o) !== v : (o) => get(o) === v);
  }
  return (/** @type {any} */ o) => preds.every((p) => p(o));
}

/**
 * @param {import('node:http').ServerResponse} res @param {number} code @param {any} body @param {string} [type]
 */
export function sendJson(res, code, body, type = 'application/json') {
  const data = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-cache, private',
  });
  res.end(data);
}

/** @param {import('node:http').ServerResponse} res @param {number} code @param {string} text */
function sendText(res, code, text) {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** @param {import('node:http').ServerResponse} res @param {ApiError} e @param {Record<string,string>} [headers] */
function sendStatus(res, e, headers = {}) {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, e.code, status(e.code, e.reason, e.message, e.details));
}
