// The sandbox's "kubelet + deployment controller + Service". Each tenant has a
// stable TCP endpoint (the Service) that forwards to its current ready pod. A
// pod is a tenant-proxy process (or, with --inline-pods, an in-process TLS
// server) that reads tls.crt/tls.key from files written at pod start, like a
// kubelet secret volume. A rollout (spec.template change) starts a new pod
// with the CURRENT secret; once it is ready the Service switches to it, the
// old pod is killed, and only then does the Deployment status report success.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTenantProxy } from './tenant-proxy.mjs';

const PROXY_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tenant-proxy.mjs');
const POD_START_TIMEOUT_MS = 15000;
const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * @typedef {{ name: string, hash: string, port: number, pid: number, ready: boolean, kill: () => Promise<void>, sockets: Set<import('node:net').Socket> }} Pod
 * @typedef {{ namespace: string, secret: string, deployment: string, endpoint: string, server: import('node:net').Server,
 *   serving?: Pod, pending?: Pod, lastError?: string }} Tenant
 * @typedef {{ mode: 'complete'|'stuck'|'fail'|'unobserved', delayMs?: number, deadlineMs?: number, times: number }} RolloutMode
 * @typedef {{ gen: number, cancelled: boolean, timers: NodeJS.Timeout[], outcome?: 'complete'|'failed' }} Rollout
 */

export class Controller {
  /**
   * @param {{ store: import('./store.mjs').Store, dir: string, rolloutDelayMs: number, progressDeadlineMs: number, inlinePods: boolean }} opts
   */
  constructor(opts) {
    this.store = opts.store;
    this.dir = opts.dir;
    this.rolloutDelayMs = opts.rolloutDelayMs;
    this.progressDeadlineMs = opts.progressDeadlineMs;
    this.inlinePods = opts.inlinePods;
    /** @type {Tenant[]} */
    this.tenants = [];
    /** @type {Map<string, Tenant>} the first tenant of each "namespace/deployment" */
    this.byDeployment = new Map();
    /** @type {Map<string, RolloutMode>} */
    this.modes = new Map();
    /** @type {Map<string, Rollout>} */
    this.rollouts = new Map();
    /** @type {Map<string, number>} generation last acted on, per deployment */
    this.seen = new Map();
    /** @type {Array<{ key: string, gen: number, resolve: (o: 'complete'|'failed') => void }>} */
    this.waiters = [];
    this.stopped = false;
    this.unsubscribe = this.store.subscribe((e) => {
      if (e.resource !== 'deployments' || this.stopped) return;
      const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
      if (e.type === 'DELETED') {
        this.#cancel(key);
        this.seen.delete(key);
        const t = this.#tenantOf(key);
        if (t) void this.#retire(t);
        return;
      }
      const gen = e.object.metadata.generation ?? 1;
      if (this.seen.get(key) === gen) return;
      this.seen.set(key, gen);
      // Let the write that caused this event answer first, as a real controller acts asynchronously.
      setImmediate(() => this.#rollout(key, gen));
    });
  }

  /**
   * Register a tenant and open its Service port.
   * @param {{ namespace: string, secret: string, deployment: string }} t
   * @returns {Promise<Tenant>}
   */
  async addTenant(t) {
    /** @type {Tenant} */
    const tenant = { ...t, endpoint: '', server: net.createServer() };
    tenant.server.on('connection', (client) => this.#forward(tenant, client));
    await new Promise((resolve) => tenant.server.listen(0, '127.0.0.1', () => resolve(undefined)));
    tenant.endpoint = `127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (tenant.server.address()).port}`;
    this.tenants.push(tenant);
    const key = `${t.namespace}/${t.deployment}`;
    if (!this.byDeployment.has(key)) this.byDeployment.set(key, tenant);
    return tenant;
  }

  /**
   * Start the first pod of a seeded tenant and mark its deployment available.
   * @param {Tenant} t
   */
  async startInitial(t) {
    const key = `${t.namespace}/${t.deployment}`;
    const dep = this.store.peek('deployments', t.namespace, t.deployment);
    if (!dep) throw new Error(`deployment ${key} missing`);
    this.seen.set(key, dep.metadata.generation ?? 1);
    const pod = await this.#startPod(t, dep);
    t.serving = pod;
    this.#setStatus(key, dep.metadata.generation ?? 1, 'complete', this.#hashOf(dep));
  }

  /** @param {Tenant} tenant @param {import('node:net').Socket} client */
  #forward(tenant, client) {
    const pod = tenant.serving;
    client.on('error', () => {});
    if (!pod) {
      client.destroy();
      return;
    }
    const upstream = net.connect(pod.port, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pod.sockets.add(client);
    client.on('close', () => pod.sockets.delete(client));
    client.pipe(upstream).pipe(client);
  }

  /**
   * Rollout behaviour for the next rollout(s) of one deployment.
   * @param {{ namespace: string, deployment: string, mode?: RolloutMode['mode'], delayMs?: number, deadlineMs?: number, times?: number }} spec
   */
  setRolloutMode(spec) {
    const mode = spec.mode ?? 'complete';
    if (!['complete', 'stuck', 'fail', 'unobserved'].includes(mode))
      throw new Error(`rollout mode must be complete, stuck, fail or unobserved`);
    // A failure mode is one-shot by default, so the rollback's own restart completes.
    this.modes.set(`${spec.namespace}/${spec.deployment}`, {
      mode,
      delayMs: spec.delayMs,
      deadlineMs: spec.deadlineMs,
      times: spec.times ?? (mode === 'complete' ? -1 : 1),
    });
  }

  /**
   * Resolve when the rollout for generation gen (or a later one) ends.
   * @param {string} ns @param {string} name @param {number} gen
   * @returns {Promise<'complete'|'failed'>}
   */
  waitForRollout(ns, name, gen) {
    return new Promise((resolve) => this.waiters.push({ key: `${ns}/${name}`, gen, resolve }));
  }

  /** @param {string} key @param {number} gen @param {'complete'|'failed'} outcome */
  #settle(key, gen, outcome) {
    this.waiters = this.waiters.filter((w) => {
      if (w.key === key && w.gen <= gen) {
        w.resolve(outcome);
        return false;
      }
      return true;
    });
  }

  /** @param {string} key */
  #tenantOf(key) {
    return this.byDeployment.get(key);
  }

  /** @param {string} key */
  #cancel(key) {
    const r = this.rollouts.get(key);
    if (!r) return;
    r.cancelled = true;
    for (const t of r.timers) clearTimeout(t);
    this.rollouts.delete(key);
  }

  /** @param {any} dep */
  #hashOf(dep) {
    return createHash('sha256')
      .update(JSON.stringify(dep.spec?.template ?? {}))
      .digest('hex')
      .slice(0, 10);
  }

  /**
   * Drive one rollout: observe the generation, start a new pod when the
   * template changed, switch the Service, then report completion.
   * @param {string} key @param {number} gen
   */
  async #rollout(key, gen) {
    const [ns, name] = key.split('/');
    const dep = this.store.peek('deployments', ns, name);
    if (!dep || (dep.metadata.generation ?? 1) !== gen) return;
    this.#cancel(key);
    /** @type {Rollout} */
    const r = { gen, cancelled: false, timers: [] };
    this.rollouts.set(key, r);
    const later = (/** @type {number} */ ms) => new Promise((resolve) => r.timers.push(setTimeout(resolve, ms)));
    let mode = this.modes.get(key) ?? { mode: 'complete', times: -1 };
    if (mode.times > 0 && --mode.times === 0) this.modes.delete(key);
    const delay = mode.delayMs ?? this.rolloutDelayMs;
    const deadline = mode.deadlineMs ?? this.progressDeadlineMs;
    const hash = this.#hashOf(dep);
    if (mode.mode === 'unobserved') return;
    const tenant = this.#tenantOf(key);
    const templateChanged = !tenant || tenant.serving?.hash !== hash;
    if (!templateChanged) {
      this.#setStatus(key, gen, 'complete', hash);
      this.#finish(key, r, 'complete');
      return;
    }
    this.#setStatus(key, gen, 'progressing', hash);
    if (mode.mode === 'stuck') return;
    if (mode.mode === 'fail') {
      await later(deadline);
      if (r.cancelled) return;
      this.#setStatus(key, gen, 'failed', hash);
      this.#finish(key, r, 'failed');
      return;
    }
    const started = Date.now();
    if (tenant) {
      // Kill a pod a superseded rollout left half-started.
      if (tenant.pending) await tenant.pending.kill().catch(() => {});
      tenant.pending = undefined;
      let pod;
      const failAfterDeadline = async (/** @type {string} */ why) => {
        tenant.lastError = why;
        await later(Math.max(0, deadline - (Date.now() - started)));
        if (r.cancelled) return;
        this.#setStatus(key, gen, 'failed', hash);
        this.#finish(key, r, 'failed');
      };
      try {
        pod = await this.#startPod(tenant, dep);
      } catch (err) {
        if (!r.cancelled) await failAfterDeadline(/** @type {Error} */ (err).message);
        return;
      }
      if (r.cancelled || this.stopped) {
        await pod.kill();
        return;
      }
      tenant.pending = pod;
      await later(Math.max(0, delay / 2 - (Date.now() - started)));
      if (r.cancelled) return;
      // The Service switches to the new pod, then the old one goes away.
      const old = tenant.serving;
      tenant.serving = pod;
      tenant.pending = undefined;
      tenant.lastError = undefined;
      if (old) await old.kill().catch(() => {});
      if (delay > 0) this.#setStatus(key, gen, 'switched', hash);
    } else await later(delay / 2);
    await later(Math.max(0, delay - (Date.now() - started)));
    if (r.cancelled) return;
    this.#setStatus(key, gen, 'complete', hash);
    this.#finish(key, r, 'complete');
  }

  /** @param {string} key @param {Rollout} r @param {'complete'|'failed'} outcome */
  #finish(key, r, outcome) {
    r.outcome = outcome;
    if (this.rollouts.get(key) === r) this.rollouts.delete(key);
    this.#settle(key, r.gen, outcome);
  }

  /**
   * Write the Deployment status for a rollout phase (bumps the resourceVersion, emits MODIFIED).
   * @param {string} key @param {number} gen @param {'progressing'|'switched'|'complete'|'failed'} phase @param {string} hash
   */
  #setStatus(key, gen, phase, hash) {
    const [ns, name] = key.split('/');
    const dep = this.store.peek('deployments', ns, name);
    if (!dep || (dep.metadata.generation ?? 1) !== gen) return;
    const now = nowIso();
    /** @type {Cond} */
    const cond = (type, st, reason, message) => {
      const prev = (dep.status?.conditions ?? []).find((/** @type {any} */ c) => c.type === type);
      return {
        type,
        status: st,
        lastUpdateTime: now,
        lastTransitionTime: prev && prev.status === st ? prev.lastTransitionTime : now,
        reason,
        message,
      };
    };
    const st = phaseStatus(phase, dep.spec?.replicas ?? 1, `${name}-${hash}`, cond);
    this.store.update('deployments', { ...dep, status: { observedGeneration: gen, ...st } });
  }

  /**
   * Start a pod for a tenant from the deployment's current template and the
   * CURRENT secret contents, and wait until it serves (or fails).
   * @param {Tenant} t @param {any} dep
   * @returns {Promise<Pod>}
   */
  async #startPod(t, dep) {
    const hash = this.#hashOf(dep);
    const name = `${dep.metadata.name}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const podSpec = dep.spec.template.spec;
    const secretName =
      (podSpec.volumes ?? []).find((/** @type {any} */ v) => v.secret?.secretName)?.secret.secretName ?? t.secret;
    const secret = this.store.peek('secrets', t.namespace, secretName);
    if (!secret) throw new Error(`pod ${name}: secret "${secretName}" not found (MountVolume.SetUp failed)`);
    /** @type {Record<string, string>} */
    const env = {};
    for (const e of podSpec.containers?.[0]?.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
    // Like a kubelet secret volume: one file per key, private to the pod. An in-process pod
    // gets the same bytes in memory: no folder to write and remove on every rollout.
    const podDir = path.join(this.dir, 'pods', name);
    /** @type {Record<string, Buffer>} a config key may be "__proto__" */
    const files = Object.create(null);
    for (const [k, v] of Object.entries(secret.data ?? {})) files[k] = Buffer.from(/** @type {string} */ (v), 'base64');
    const pod = this.inlinePods
      ? await this.#startInlinePod(name, hash, podDir, files, env)
      : await this.#startChildPod(name, hash, podDir, files, env);
    this.#recordPod(t, dep, pod);
    const kill = pod.kill;
    pod.kill = async () => {
      pod.ready = false;
      await kill();
      this.store.delete('pods', t.namespace, pod.name);
    };
    return pod;
  }

  /**
   * @param {string} name @param {string} hash @param {string} podDir where a child's volume would be
   * @param {Record<string, Buffer>} files @param {Record<string, string>} env
   * @returns {Promise<Pod>}
   */
  async #startInlinePod(name, hash, podDir, files, env) {
    let proxy;
    try {
      proxy = await startTenantProxy({ dir: podDir, name, env, files });
    } catch (err) {
      throw new Error(`pod ${name}: container exited: ${/** @type {Error} */ (err).message}`);
    }
    /** @type {Set<import('node:net').Socket>} */
    const sockets = new Set();
    return {
      name,
      hash,
      port: proxy.port,
      pid: process.pid,
      ready: true,
      sockets,
      kill: async () => {
        for (const s of sockets) s.destroy();
        await proxy.close();
      },
    };
  }

  /**
   * @param {string} name @param {string} hash @param {string} podDir
   * @param {Record<string, Buffer>} files @param {Record<string, string>} env
   * @returns {Promise<Pod>}
   */
  async #startChildPod(name, hash, podDir, files, env) {
    fs.mkdirSync(podDir, { recursive: true, mode: 0o700 });
    for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(podDir, k), v, { mode: 0o600 });
    const cleanup = () => fs.rmSync(podDir, { recursive: true, force: true });
    const child = spawn(process.execPath, [PROXY_SCRIPT, '--dir', podDir, '--name', name], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let port;
    try {
      port = await childReady(child, name);
    } catch (err) {
      child.kill('SIGKILL');
      cleanup();
      throw err;
    }
    /** @type {Set<import('node:net').Socket>} */
    const sockets = new Set();
    return {
      name,
      hash,
      port,
      pid: child.pid ?? 0,
      ready: true,
      sockets,
      kill: async () => {
        for (const s of sockets) s.destroy();
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
        cleanup();
      },
    };
  }

  /** Publish a read-only Pod object so `kubectl get pods` shows the sandbox's pods. @param {Tenant} t @param {any} dep @param {Pod} pod */
  #recordPod(t, dep, pod) {
    const tmpl = dep.spec.template;
    this.store.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: pod.name,
        namespace: t.namespace,
        labels: { ...(tmpl.metadata?.labels ?? {}), 'pod-template-hash': pod.hash },
        annotations: { ...(tmpl.metadata?.annotations ?? {}) },
      },
      spec: { ...tmpl.spec, nodeName: 'sandbox' },
      status: {
        phase: 'Running',
        podIP: '127.0.0.1',
        conditions: [{ type: 'Ready', status: 'True' }],
        startTime: nowIso(),
      },
    });
  }

  /** @param {Tenant} t */
  async #retire(t) {
    const pods = [t.serving, t.pending].filter(Boolean);
    t.serving = undefined;
    t.pending = undefined;
    await Promise.all(pods.map((p) => /** @type {Pod} */ (p).kill().catch(() => {})));
  }

  /** Tenants with their pods, for /_sandbox/state. */
  tenantState() {
    return this.tenants.map((t) => ({
      namespace: t.namespace,
      secret: t.secret,
      deployment: t.deployment,
      endpoint: t.endpoint,
      pod: t.serving ? { name: t.serving.name, pid: t.serving.pid, port: t.serving.port } : null,
      pendingPod: t.pending ? { name: t.pending.name, pid: t.pending.pid, port: t.pending.port } : null,
      lastError: t.lastError ?? null,
      rollingOut: this.rollouts.has(`${t.namespace}/${t.deployment}`),
    }));
  }

  /** Kill every pod and close every Service. */
  async stop() {
    this.stopped = true;
    this.unsubscribe();
    for (const key of [...this.rollouts.keys()]) this.#cancel(key);
    await Promise.all(
      this.tenants.map(async (t) => {
        await this.#retire(t);
        await new Promise((resolve) => t.server.close(() => resolve(undefined)));
      }),
    );
  }
}

/**
 * The port a tenant-proxy child reports once it listens.
 * @param {import('node:child_process').ChildProcessWithoutNullStreams} child @param {string} name
 * @returns {Promise<number>}
 */
function childReady(child, name) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`pod ${name}: not ready after ${POD_START_TIMEOUT_MS} ms`)),
      POD_START_TIMEOUT_MS,
    );
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).port);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pod ${name}: container exited with code ${code}: ${err.trim().split('\n').pop() ?? ''}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** @typedef {(type: string, st: string, reason: string, message: string) => Record<string, string>} Cond */

/**
 * The Deployment status (without observedGeneration) a rollout phase reports.
 * @param {'progressing'|'switched'|'complete'|'failed'} phase @param {number} n replicas
 * @param {string} rs the new ReplicaSet's name @param {Cond} cond
 * @returns {Record<string, any>}
 */
function phaseStatus(phase, n, rs, cond) {
  const available = cond('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.');
  const progressing = cond('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${rs}" is progressing.`);
  // Old and new pods both up, the new ones not yet available (a rollout under way, or stuck).
  const overlap = {
    replicas: 2 * n,
    updatedReplicas: n,
    readyReplicas: n,
    availableReplicas: n,
    unavailableReplicas: n,
  };
  switch (phase) {
    case 'progressing':
      return { ...overlap, conditions: [available, progressing] };
    case 'switched':
      return {
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: 0,
        unavailableReplicas: n,
        conditions: [available, progressing],
      };
    case 'failed':
      return {
        ...overlap,
        conditions: [
          available,
          cond('Progressing', 'False', 'ProgressDeadlineExceeded', `ReplicaSet "${rs}" has timed out progressing.`),
        ],
      };
    default:
      return {
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: n,
        conditions: [
          available,
          cond('Progressing', 'True', 'NewReplicaSetAvailable', `ReplicaSet "${rs}" has successfully progressed.`),
        ],
      };
  }
}
