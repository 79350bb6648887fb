// The one module that runs kubectl (and imports execa). Every call pins --context and
// --namespace (skaffold's habit), takes arguments as an array, and sends manifests, which
// may hold key material, on stdin (`-f -`): never argv, never temp files. Failures become
// KubectlError with stderr passed through redact(). What each call asks lives by topic
// (secrets.ts, deployments.ts, auth.ts); the class's methods of those names hand over to them.
import { BusyError, KubectlError, XsoarCertError } from '../errors.js';
import { answered, refuseName } from './names.js';
import { redact } from '../redact.js';
import { childEnv } from '../child-env.js';
import { accessReviews, permissions, type AccessCheck, type Permissions } from './auth.js';
import {
  listDeployments,
  restartedAt,
  rolloutFields,
  rolloutRestart,
  rolloutStatus,
  type Deployment,
} from './deployments.js';
import {
  createSecret,
  deleteSecret,
  each,
  getSecret,
  listAll,
  listAllIfAllowed,
  listSecrets,
  listSecretsAndDeployments,
  patchSecretJson,
  replaceSecret,
  tlsSecretNames,
  type EachResult,
  type SecretObject,
} from './secrets.js';

export { childEnv };

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Set when the binary could not be started at all. */
  spawnError?: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with each stdout line as it arrives (rollout status progress). */
  onLine?: (line: string) => void;
}

/** The process boundary: injected in unit tests (STYLE habit 14), execa in real runs. */
export type Run = (bin: string, args: string[], opts: RunOptions) => Promise<RunResult>;

export interface KubectlOptions {
  context?: string;
  kubeconfig?: string;
  namespace: string;
  run?: Run;
  bin?: string;
  timeoutMs?: number;
}

export const execaRun: Run = async (bin, args, opts) => {
  const { execa } = await import('execa');
  const child = execa(bin, args, {
    input: opts.input ?? '',
    reject: false,
    timeout: opts.timeoutMs,
    cancelSignal: opts.signal,
    stripFinalNewline: false,
    extendEnv: false,
    env: childEnv(),
  });
  if (opts.onLine) {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        opts.onLine!(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const r = await child;
  const code = (r as { code?: string }).code;
  if (code === 'ENOENT') return { exitCode: 127, stdout: '', stderr: '', spawnError: 'ENOENT' };
  return {
    exitCode: r.exitCode ?? (r.isCanceled ? 130 : 1),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + (r.timedOut ? '\n(timed out)' : ''),
  };
};

/** kubectl's klog lines (`E1129 08:07:57.07 17047 memcache.go:265] "Unhandled Error" err="…"`) down to the message. */
export function cleanLine(line: string): string {
  return line
    .replace(/^[EWIF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] /, '')
    .replace(/^"Unhandled Error" err="(.*)"$/, (_, m: string) => m.replace(/\\"/g, '"'));
}

/** The namespace value of a Kubectl that pins none (see acrossNamespaces()). */
export const ALL_NAMESPACES = '*';

/** kubectl's words for an API server it could not reach (klog lines, client-go errors, Go's net errors). */
const UNREACHABLE =
  /Unable to connect to the server|connection refused|The connection to the server .* was refused|no such host|i\/o timeout|couldn't get current server API group list|dial tcp/;

export type Lookup<T> = { found: false } | { found: true; object: T };

export class Kubectl {
  readonly namespace: string;
  readonly context?: string;
  /** How long one kubectl call may take, in ms. */
  readonly timeoutMs: number;
  private readonly run: Run;
  private readonly bin: string;
  private readonly kubeconfig?: string;
  /** Aborts every call in flight (SIGINT/SIGTERM during a transaction). */
  signal?: AbortSignal;

  constructor(opts: KubectlOptions) {
    this.namespace = opts.namespace;
    this.context = opts.context;
    this.kubeconfig = opts.kubeconfig;
    this.run = opts.run ?? execaRun;
    this.bin = opts.bin ?? process.env.XSOAR_CERT_KUBECTL ?? 'kubectl';
    // XSOAR_CERT_KUBECTL_TIMEOUT (seconds): how long one kubectl call may take (default 60), for a slow API server.
    const envTimeout = Number(process.env.XSOAR_CERT_KUBECTL_TIMEOUT);
    this.timeoutMs = opts.timeoutMs ?? (envTimeout > 0 ? envTimeout * 1000 : 60_000);
  }

  /** Global flags first, so every call names the same cluster and namespace. */
  private base(): string[] {
    const a: string[] = [];
    if (this.kubeconfig) a.push('--kubeconfig', this.kubeconfig);
    if (this.context) a.push('--context', this.context);
    if (this.namespace !== ALL_NAMESPACES) a.push('--namespace', this.namespace);
    return a;
  }

  where(): string {
    const ns = this.namespace === ALL_NAMESPACES ? 'all namespaces' : `namespace "${this.namespace}"`;
    return `${ns}${this.context ? ` (context ${this.context})` : ''}`;
  }

  /** The same cluster without a namespace pin: for lists across namespaces and manifests naming their own. */
  acrossNamespaces(): Kubectl {
    return this.forNamespace(ALL_NAMESPACES);
  }

  /** The same cluster, pinned to another namespace. */
  forNamespace(namespace: string): Kubectl {
    return new Kubectl({
      namespace,
      context: this.context,
      kubeconfig: this.kubeconfig,
      run: this.run,
      bin: this.bin,
      timeoutMs: this.timeoutMs,
    });
  }

  async call(verb: string, args: string[], opts: RunOptions & { allowFail?: boolean } = {}): Promise<RunResult> {
    const full = [...this.base(), verb, ...args];
    refuseFlagLike(full);
    const r = await this.run(this.bin, full, { timeoutMs: this.timeoutMs, signal: this.signal, ...opts });
    if (r.spawnError === 'ENOENT') {
      throw new KubectlError(`kubectl not found (looked for "${this.bin}" on PATH)`, {
        verb,
        args: full,
        hint: 'Install it (Debian: apt install kubernetes-client) or set XSOAR_CERT_KUBECTL to its path.',
      });
    }
    if (r.exitCode !== 0 && !opts.allowFail) throw this.error(verb, full, r);
    return r;
  }

  /** One line that names the object and says what to do; stderr redacted. */
  error(verb: string, args: string[], r: RunResult): XsoarCertError {
    const stderr = redact(r.stderr.trim());
    const first = cleanLine(
      stderr.split('\n').filter((l) => !/^Warning:/.test(l))[0] ?? `kubectl ${verb} exited ${r.exitCode}`,
    );
    const reason = /Error from server \((\w+)\)/.exec(stderr)?.[1];
    if (reason === 'Conflict')
      return new BusyError(
        `the secret changed while xsoar-cert was working (${this.where()}): ${first.replace(/^Error from server \(Conflict\): /, '')}`,
        'Someone else changed it; run status, then try again.',
      );
    if (reason === 'Forbidden')
      return new KubectlError(
        `permission denied in ${this.where()}: ${first.replace(/^Error from server \(Forbidden\): /, '')}`,
        { verb, args, stderr, reason, hint: 'Ask your cluster admin for this RBAC permission.' },
      );
    if (UNREACHABLE.test(stderr)) {
      return new KubectlError(`cannot reach the cluster for ${this.where()}: ${first}`, {
        verb,
        args,
        stderr,
        reason: 'Unreachable',
        hint: 'Check KUBECONFIG / --context and that the API server is up (kubectl cluster-info).',
      });
    }
    if (/timed out/.test(stderr) && r.exitCode !== 0 && verb !== 'rollout') {
      return new KubectlError(`kubectl ${verb} timed out for ${this.where()}`, {
        verb,
        args,
        stderr,
        reason: 'Timeout',
        hint: 'The API server is slow or unreachable; try again.',
      });
    }
    return new KubectlError(`kubectl ${verb} failed for ${this.where()}: ${first}`, { verb, args, stderr, reason });
  }

  /** Namespaces matching a label selector (-A -l). */
  async namespacesMatching(selector: string): Promise<string[]> {
    const r = await this.call('get', ['namespaces', '-l', selector, '-o', 'json']);
    return answered('namespaces', (JSON.parse(r.stdout) as { items: { metadata: { name: string } }[] }).items).map(
      (n) => n.metadata.name,
    );
  }

  // secrets.ts
  getSecret(name: string): Promise<Lookup<SecretObject>> {
    return getSecret(this, name);
  }
  listSecrets(labelSelector: string): Promise<SecretObject[]> {
    return listSecrets(this, labelSelector);
  }
  tlsSecretNames(): Promise<string[]> {
    return tlsSecretNames(this);
  }
  listSecretsAndDeployments(): Promise<{ secrets: SecretObject[]; deployments: Deployment[] }> {
    return listSecretsAndDeployments(this);
  }
  create(manifest: object): Promise<SecretObject> {
    return createSecret(this, manifest);
  }
  replace(manifest: object): Promise<SecretObject> {
    return replaceSecret(this, manifest);
  }
  patchSecretJson(name: string, patch: string): Promise<SecretObject> {
    return patchSecretJson(this, name, patch);
  }
  deleteSecret(name: string): Promise<void> {
    return deleteSecret(this, name);
  }
  listAll<T>(kind: string, extra: string[] = []): Promise<T[]> {
    return listAll<T>(this, kind, extra);
  }
  listAllIfAllowed<T>(kind: string, extra: string[] = []): Promise<T[] | undefined> {
    return listAllIfAllowed<T>(this, kind, extra);
  }
  each(
    verb: 'create' | 'replace' | 'delete' | 'patch',
    items: ReadonlyArray<{ metadata: { name: string; namespace?: string } }>,
    fields: string[] = [],
    jsonPatch?: string,
  ): Promise<EachResult[]> {
    return each(this, verb, items, fields, jsonPatch);
  }

  // deployments.ts
  listDeployments(): Promise<Deployment[]> {
    return listDeployments(this);
  }
  restartedAt(deployment: string): Promise<{ generation: number; restartedAt?: string }> {
    return restartedAt(this, deployment);
  }
  rolloutRestart(deployments: string[]): Promise<void> {
    return rolloutRestart(this, deployments);
  }
  rolloutStatus(deployment: string, timeoutS: number, onLine?: (l: string) => void): Promise<void> {
    return rolloutStatus(this, deployment, timeoutS, onLine);
  }
  rolloutFields(): Promise<Deployment[]> {
    return rolloutFields(this);
  }

  // auth.ts
  permissions(): Promise<Permissions> {
    return permissions(this);
  }
  accessReviews(checks: AccessCheck[]): Promise<boolean[]> {
    return accessReviews(this, checks);
  }
}

/** The wrapper's last check: nothing after "--" may look like a flag, the pinned namespace is a real one. */
function refuseFlagLike(full: readonly string[]): void {
  const ns = full.indexOf('--namespace');
  if (ns >= 0 && full[ns + 1] !== undefined) refuseName('namespace', full[ns + 1]!);
  const dash = full.indexOf('--');
  if (dash < 0) return;
  for (const a of full.slice(dash + 1)) {
    if (a.startsWith('-')) refuseName('secret', a);
  }
}
