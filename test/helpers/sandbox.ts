// Starts the sandbox cluster (scripts/sandbox/cluster.mjs) for end-to-end tests that drive
// the real kubectl binary against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ROOT } from './run-cli.js';

export interface Tenant {
  namespace: string;
  secret: string;
  deployment: string;
  endpoint: string;
}

export interface SandboxOptions {
  tenants?: number;
  tenant?: string[];
  rolloutDelayMs?: number;
  progressDeadlineMs?: number;
  inlinePods?: boolean;
}

export interface Sandbox {
  url: string;
  dir: string;
  kubeconfig: string;
  context: string;
  tenants: Tenant[];
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  control(pathName: string, body?: unknown, method?: string): Promise<any>;
  fault(spec: Record<string, unknown>): Promise<string>;
  clearFaults(): Promise<void>;
  setRollout(spec: { namespace?: string; deployment?: string; mode?: string; delayMs?: number }): Promise<void>;
  setAuthz(spec: Record<string, unknown>): Promise<void>;
  state(): Promise<any>;
  requests(): Promise<any[]>;
  secretData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  servedCert(endpoint: string, opts?: { servername?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<{ sha256: string; pem: string }>;
  stop(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xsoar-cert-sandbox-'));
  const args = [path.join(ROOT, 'scripts', 'sandbox', 'cluster.mjs'), '--dir', dir, '--port', '0', '--rollout-delay-ms', String(opts.rolloutDelayMs ?? 100), '--progress-deadline-ms', String(opts.progressDeadlineMs ?? 2000)];
  if (opts.tenants) args.push('--tenants', String(opts.tenants));
  for (const t of opts.tenant ?? []) args.push('--tenant', t);
  if (opts.inlinePods) args.push('--inline-pods');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  child.stderr!.on('data', (d) => (errText += d));
  const ready = await new Promise<{ url: string; kubeconfig: string; context: string; tenants: Tenant[] }>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}: ${errText}`)));
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: ready.kubeconfig,
    KUBECACHEDIR: path.join(dir, 'kube-cache'),
    XSOAR_CERT_STATE_DIR: path.join(dir, 'state'),
    XSOAR_CERT_NAMESPACE: '',
    XSOAR_CERT_SECRET: '',
    XSOAR_CERT_CONFIG: path.join(dir, 'no-config.json'),
  };
  const control = async (p: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<any> => {
    const res = await fetch(`${ready.url}/_sandbox/${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return res.json();
  };
  const sb: Sandbox = {
    url: ready.url,
    dir,
    kubeconfig: ready.kubeconfig,
    context: ready.context,
    tenants: ready.tenants,
    env,
    kubectl: (a, input) =>
      new Promise((resolve) => {
        const k = spawn('kubectl', a, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        k.stdout.on('data', (d) => (stdout += d));
        k.stderr.on('data', (d) => (stderr += d));
        k.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        k.stdin.end(input ?? '');
      }),
    control,
    fault: async (spec) => (await control('faults', spec)).id,
    clearFaults: async () => void (await control('faults', undefined, 'DELETE')),
    setRollout: async (spec) => void (await control('rollout', spec)),
    setAuthz: async (spec) => void (await control('authz', spec)),
    state: () => control('state'),
    requests: () => control('requests'),
    secretData: async (ns, name) => (await control('state')).secrets.find((s: any) => s.metadata.namespace === ns && s.metadata.name === name)?.data,
    servedCert: (endpoint, o = {}) =>
      new Promise((resolve, reject) => {
        const [host, port] = endpoint.split(':');
        const s = connect({ host, port: Number(port), servername: o.servername, rejectUnauthorized: false, minVersion: o.minVersion, maxVersion: o.maxVersion }, () => {
          const raw = s.getPeerCertificate().raw;
          s.destroy();
          const x = new X509Certificate(raw);
          resolve({ sha256: x.fingerprint256, pem: x.toString() });
        });
        s.on('error', reject);
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return sb;
}
