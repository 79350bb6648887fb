// Starts the sandbox cluster (scripts/sandbox/cluster.mjs) for end-to-end tests
// that drive the real kubectl binary against it, and wraps its /_sandbox
// control API (faults, rollout modes, authorization, TLS env, state, request log).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ROOT } from './run-cli.js';

export interface Tenant {
  namespace: string;
  secret: string;
  deployment: string;
  /** 127.0.0.1:PORT of the tenant's stable "Service" in front of its current pod. */
  endpoint: string;
}

export interface SandboxOptions {
  /** Creates tenant-1..tenant-N (each with secret xsoar-tls and deployment xsoar-proxy). */
  tenants?: number;
  /** Extra tenants as NS[/SECRET[/DEPLOYMENT]]. Without tenants/tenant: one tenant xsoar/xsoar-tls/xsoar-proxy. */
  tenant?: string[];
  /** How long a rollout takes after its new pod is ready (default here 100 ms; the CLI's default is 300). */
  rolloutDelayMs?: number;
  /** When a rollout whose pod cannot start (or mode 'fail') reports ProgressDeadlineExceeded (default 2000). */
  progressDeadlineMs?: number;
  /** Pods as in-process TLS servers instead of child processes (for many tenants). */
  inlinePods?: boolean;
  /** Serve the API over HTTPS (the kubeconfig carries its CA); /_sandbox stays on plain HTTP. */
  tls?: boolean;
  /** Require `Authorization: Bearer TOKEN` on every API request (implies tls). */
  token?: string;
}

export interface FaultSpec {
  match: { method?: string; path?: string; userAgent?: string };
  /** 1-based index among matching requests of the first one hit (default 1). */
  nth?: number;
  /** How many matching requests are hit from the nth on (default 1; -1 = always). */
  times?: number;
  action: 'status' | 'drop' | 'delay';
  status?: number;
  reason?: string;
  message?: string;
  delayMs?: number;
  retryAfter?: number;
}

export interface RolloutSpec {
  namespace: string;
  deployment: string;
  mode: 'complete' | 'stuck' | 'fail' | 'unobserved';
  /** Rollout delay for this deployment. */
  delayMs?: number;
  /** When mode 'fail' (or a pod that cannot start) reports ProgressDeadlineExceeded. */
  deadlineMs?: number;
  /** How many rollouts the mode applies to (default: 1 for stuck/fail/unobserved, then back to complete; -1 = always). */
  times?: number;
}

export interface AuthzSpec {
  /** Default: the sandbox's own identity (sandbox-admin); other users act via `kubectl --as USER`. */
  user?: string;
  /** scope 'cluster' denies only requests across all namespaces (namespaced roles only). */
  deny?: Array<{ verb: string; resource: string; namespace?: string; scope?: 'cluster' }>;
  /** Denies create/update/patch/delete. */
  readOnly?: boolean;
  /** Clears the user's policy (every policy when no user is given) before applying the rest. */
  reset?: boolean;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  url: string;
  dir: string;
  kubeconfig: string;
  context: string;
  tenants: Tenant[];
  /** KUBECONFIG, a private KUBECACHEDIR and HOME inside dir, XSOAR_CERT_STATE_DIR, NO_COLOR. */
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  control(pathName: string, body?: unknown, method?: string): Promise<any>;
  fault(spec: FaultSpec): Promise<string>;
  clearFaults(): Promise<void>;
  setRollout(spec: RolloutSpec): Promise<void>;
  setAuthz(spec: AuthzSpec): Promise<void>;
  /** Sets TLS_MIN_VERSION/TLS_MAX_VERSION on the tenant's pod template and waits for the restart. */
  setTenantTls(spec: { namespace: string; min?: string; max?: string }): Promise<{ ok: boolean; outcome: string }>;
  state(): Promise<any>;
  requests(): Promise<any[]>;
  secretData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** The leaf certificate a TLS client sees at endpoint; sha256 as X509Certificate.fingerprint256 (AB:CD:...). */
  servedCert(
    endpoint: string,
    opts?: { servername?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' },
  ): Promise<{ sha256: string; pem: string }>;
  stop(): Promise<void>;
}

const CLUSTER = path.join(ROOT, 'scripts', 'sandbox', 'cluster.mjs');

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-sandbox-'));
  const args = [
    CLUSTER,
    '--dir',
    dir,
    '--port',
    '0',
    '--rollout-delay-ms',
    String(opts.rolloutDelayMs ?? 100),
    '--progress-deadline-ms',
    String(opts.progressDeadlineMs ?? 2000),
  ];
  if (opts.tenants) args.push('--tenants', String(opts.tenants));
  for (const t of opts.tenant ?? []) args.push('--tenant', t);
  if (opts.inlinePods) args.push('--inline-pods');
  if (opts.tls) args.push('--tls');
  if (opts.token) args.push('--token', opts.token);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errText += d;
    // The sandbox writes to stderr only when something is wrong: show it next to the failing test.
    process.stderr.write(d.replace(/^/gm, '[sandbox] '));
  });
  type Ready = { url: string; controlUrl?: string; kubeconfig: string; context: string; tenants: Tenant[] };
  const ready = await new Promise<Ready>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sandbox not ready after 60 s: ${errText}`));
    }, 60000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      // Whole lines only: a 1000-tenant ready line arrives in several chunks.
      const line = buf
        .split('\n')
        .slice(0, -1)
        .find((l) => l.includes('"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sandbox exited ${code}: ${errText}`));
    });
  });
  const home = path.join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    KUBECONFIG: ready.kubeconfig,
    KUBECACHEDIR: path.join(dir, 'kube-cache'),
    XSOAR_CERT_STATE_DIR: path.join(dir, 'state'),
    XSOAR_CERT_NAMESPACE: '',
    XSOAR_CERT_SECRET: '',
    XSOAR_CERT_CONFIG: path.join(dir, 'no-config.json'),
    NO_COLOR: '1',
  };
  const control = async (p: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> => {
    const res = await fetch(`${ready.controlUrl ?? ready.url}/_sandbox/${p}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`sandbox ${method} /_sandbox/${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  let stopped = false;
  const sb: Sandbox = {
    url: ready.url,
    dir,
    kubeconfig: ready.kubeconfig,
    context: ready.context,
    tenants: ready.tenants,
    env,
    kubectl: (a, input) =>
      new Promise((resolve, reject) => {
        const k = spawn('kubectl', a, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        k.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        k.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        k.on('error', reject);
        k.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        k.stdin.on('error', () => {});
        k.stdin.end(input ?? '');
      }),
    control,
    fault: async (spec) => (await control('faults', spec)).id,
    clearFaults: async () => void (await control('faults', undefined, 'DELETE')),
    setRollout: async (spec) => void (await control('rollout', spec)),
    setAuthz: async (spec) => void (await control('authz', spec)),
    setTenantTls: (spec) => control('tenant-tls', spec),
    state: () => control('state'),
    requests: () => control('requests'),
    secretData: async (ns, name) =>
      (await control('state')).secrets.find((s: any) => s.metadata.namespace === ns && s.metadata.name === name)?.data,
    servedCert: (endpoint, o = {}) =>
      new Promise((resolve, reject) => {
        const i = endpoint.lastIndexOf(':');
        const s = connect(
          {
            host: endpoint.slice(0, i),
            port: Number(endpoint.slice(i + 1)),
            servername: o.servername,
            rejectUnauthorized: false,
            minVersion: o.minVersion,
            maxVersion: o.maxVersion,
          },
          () => {
            const raw = s.getPeerCertificate().raw;
            s.destroy();
            const x = new X509Certificate(raw);
            resolve({ sha256: x.fingerprint256, pem: x.toString() });
          },
        );
        s.setTimeout(10000, () => s.destroy(new Error(`no TLS handshake from ${endpoint} within 10 s`)));
        s.on('error', reject);
      }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return sb;
}
