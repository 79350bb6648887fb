// The one module that runs kubectl (and imports execa). Every call pins --context and
// --namespace (skaffold's habit), takes arguments as an array, and sends manifests, which
// may hold key material, on stdin (`-f -`): never argv, never temp files. Failures become
// KubectlError with stderr passed through redact().
import { BusyError, KubectlError, XsoarCertError } from '../errors.js';
import { checkK8sName, isK8sName, type NameKind } from './names.js';
import { quoted } from '../printable.js';
import { redact } from '../redact.js';
import { childEnv } from '../child-env.js';

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

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  type?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    uid?: string;
  };
  data?: Record<string, string>;
  immutable?: boolean;
}

export interface DeploymentObject {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: {
    template?: {
      metadata?: { annotations?: Record<string, string> };
      spec?: {
        volumes?: { secret?: { secretName?: string }; projected?: { sources?: { secret?: { name?: string } }[] } }[];
      };
    };
  };
}

/** kubectl's klog lines (`E1129 08:07:57.07 17047 memcache.go:265] "Unhandled Error" err="…"`) down to the message. */
export function cleanLine(line: string): string {
  return line
    .replace(/^[EWIF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\] /, '')
    .replace(/^"Unhandled Error" err="(.*)"$/, (_, m: string) => m.replace(/\\"/g, '"'));
}

/** The namespace value of a Kubectl that pins none (see acrossNamespaces()). */
export const ALL_NAMESPACES = '*';

export type Lookup<T> = { found: false } | { found: true; object: T };

export class Kubectl {
  readonly namespace: string;
  readonly context?: string;
  private readonly run: Run;
  private readonly bin: string;
  private readonly kubeconfig?: string;
  private readonly timeoutMs: number;
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
    return `${this.namespace === ALL_NAMESPACES ? 'all namespaces' : `namespace "${this.namespace}"`}${this.context ? ` (context ${this.context})` : ''}`;
  }

  /** The same cluster without a namespace pin: for lists across namespaces and manifests naming their own. */
  acrossNamespaces(): Kubectl {
    return this.forNamespace(ALL_NAMESPACES);
  }

  /** The names of the namespace's kubernetes.io/tls secrets (for "which secret?" help). */
  async tlsSecretNames(): Promise<string[]> {
    const r = await this.call('get', [
      'secrets',
      '--field-selector',
      'type=kubernetes.io/tls',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}',
    ]);
    const names = r.stdout.split('\n').filter(Boolean);
    return names.map((n) => checkK8sName('secret', n, { cluster: 'kubectl get secrets' }));
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

  /**
   * SelfSubjectAccessReviews for many checks in one kubectl process (what `auth can-i` asks, one
   * namespace at a time). When the API cannot answer, every check counts as allowed: the writes
   * themselves are refused cleanly, before anything in that tenant changes.
   */
  async accessReviews(
    checks: Array<{ verb: string; group: string; resource: string; namespace: string; name?: string }>,
  ): Promise<boolean[]> {
    if (checks.length === 0) return [];
    const items = checks.map((c) => ({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: {
          verb: c.verb,
          group: c.group,
          resource: c.resource,
          namespace: c.namespace,
          ...(c.name ? { name: c.name } : {}),
        },
      },
    }));
    const r = await this.call('create', ['-f', '-', '--validate=false', '-o', 'jsonpath={.status.allowed}{"\\n"}'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
      allowFail: true,
    });
    const answers = r.stdout.split('\n').filter(Boolean);
    if (answers.length !== checks.length) return checks.map(() => true);
    return answers.map((a) => a === 'true');
  }

  /**
   * Every deployment's rollout fields across namespaces, as a jsonpath table rather than whole
   * objects: the batched wait polls this every 150 ms, and 100 full deployments are 300 KB a poll.
   */
  async rolloutFields(): Promise<
    Array<{
      metadata: { namespace: string; name: string; generation: number };
      spec: { replicas?: number };
      status: {
        observedGeneration: number;
        replicas: number;
        updatedReplicas: number;
        availableReplicas: number;
        conditions: { type: string; status: string; reason: string }[];
      };
    }>
  > {
    const cols = [
      '.metadata.namespace',
      '.metadata.name',
      '.metadata.generation',
      '.spec.replicas',
      '.status.observedGeneration',
      '.status.replicas',
      '.status.updatedReplicas',
      '.status.availableReplicas',
      '.status.conditions[?(@.type=="Progressing")].reason',
    ];
    const tpl = '{range .items[*]}' + cols.map((c) => `{${c}}`).join('{"\\t"}') + '{"\\n"}{end}';
    const r = await this.call('get', ['deployments', '--all-namespaces', '-o', `jsonpath=${tpl}`]);
    const n = (v: string | undefined) => (v ? Number(v) : 0);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [ns, name, gen, replicas, obs, rep, upd, avail, progressing] = line.split('\t');
        answered('deployments', [{ metadata: { namespace: ns, name } }]);
        return {
          metadata: { namespace: ns!, name: name!, generation: n(gen) },
          spec: { replicas: replicas ? Number(replicas) : undefined },
          status: {
            observedGeneration: n(obs),
            replicas: n(rep),
            updatedReplicas: n(upd),
            availableReplicas: n(avail),
            conditions: progressing ? [{ type: 'Progressing', status: '', reason: progressing }] : [],
          },
        };
      });
  }

  /** listAll, or undefined when RBAC forbids listing across namespaces (a user with namespaced roles only). */
  async listAllIfAllowed<T>(kind: string, extra: string[] = []): Promise<T[] | undefined> {
    try {
      return await this.listAll<T>(kind, extra);
    } catch (err) {
      if (err instanceof KubectlError && err.reason === 'Forbidden') return undefined;
      throw err;
    }
  }

  /** `kubectl get KIND -A -o json` (with extra selectors): every namespace in one call. */
  async listAll<T>(kind: string, extra: string[] = []): Promise<T[]> {
    const r = await this.call('get', [kind, '--all-namespaces', ...extra, '-o', 'json']);
    return answered(kind, (JSON.parse(r.stdout) as { items: T[] }).items);
  }

  /**
   * One kubectl process for many objects (a List on stdin, each naming its namespace): kubectl
   * sends them one by one and goes on after a failure. Returns, per input item, what the server
   * answered: its `jsonpath` fields, or the error line kubectl printed for it.
   */
  async each(
    verb: 'create' | 'replace' | 'delete' | 'patch',
    items: ReadonlyArray<{ metadata: { name: string; namespace?: string } }>,
    fields: string[] = [],
    /** patch: the JSON patch applied to every item (no key material: it is argv). */ jsonPatch?: string,
  ): Promise<Array<{ ok: true; fields: string[] } | { ok: false; error: string }>> {
    if (items.length === 0) return [];
    const path = ['{.metadata.namespace}', '{.metadata.name}', ...fields].join('{"\\t"}') + '{"\\n"}';
    const args =
      verb === 'delete'
        ? ['-f', '-', '--ignore-not-found', '--wait=false', '-o', 'name']
        : verb === 'patch'
          ? ['-f', '-', '--type=json', '-p', jsonPatch ?? '[]', '-o', `jsonpath=${path}`]
          : ['-f', '-', '--validate=false', '-o', `jsonpath=${path}`];
    const r = await this.call(verb, args, {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
      allowFail: true,
      timeoutMs: this.timeoutMs + items.length * 1000,
    });
    if (r.exitCode !== 0 && !r.stdout.trim() && !/Error from server|error when/.test(r.stderr))
      throw this.error(verb, [verb], r);
    const done = new Map<string, string[]>();
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const [ns, name, ...rest] = line.split('\t');
      done.set(`${ns}/${name}`, rest);
    }
    const errors = redact(r.stderr)
      .split('\n')
      .filter((l) => /^Error from server|^error/.test(l));
    let e = 0;
    return items.map((it) => {
      if (verb === 'delete') return { ok: true, fields: [] };
      const f = done.get(`${it.metadata.namespace}/${it.metadata.name}`);
      if (f) return { ok: true, fields: f };
      // kubectl reports failures in input order, one line each.
      return { ok: false, error: errors[e++] ?? `kubectl ${verb} did not ${verb} it` };
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
    if (
      /Unable to connect to the server|connection refused|The connection to the server .* was refused|no such host|i\/o timeout|couldn't get current server API group list|dial tcp/.test(
        stderr,
      )
    ) {
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

  async getSecret(name: string): Promise<Lookup<SecretObject>> {
    const r = await this.call('get', ['secret', '-o', 'json', '--ignore-not-found', ...positional('secret', [name])]);
    if (!r.stdout.trim()) return { found: false };
    return { found: true, object: answered('secret', [JSON.parse(r.stdout) as SecretObject])[0]! };
  }

  async listSecrets(labelSelector: string): Promise<SecretObject[]> {
    const r = await this.call('get', ['secrets', '-l', labelSelector, '-o', 'json']);
    return answered('secrets', (JSON.parse(r.stdout) as { items: SecretObject[] }).items);
  }

  /** Every secret and deployment of the namespace in one kubectl process (`get secrets,deployments`). */
  async listSecretsAndDeployments(): Promise<{ secrets: SecretObject[]; deployments: DeploymentObject[] }> {
    const r = await this.call('get', ['secrets,deployments', '-o', 'json']);
    type Item = (SecretObject | DeploymentObject) & { kind?: string };
    const items = answered('secrets,deployments', (JSON.parse(r.stdout) as { items: Item[] }).items);
    return {
      secrets: items.filter((i) => i.kind === 'Secret') as SecretObject[],
      deployments: items.filter((i) => i.kind === 'Deployment') as DeploymentObject[],
    };
  }

  async listDeployments(): Promise<DeploymentObject[]> {
    const r = await this.call('get', ['deployments', '-o', 'json']);
    return answered('deployments', (JSON.parse(r.stdout) as { items: DeploymentObject[] }).items);
  }

  /** `kubectl create -f -`: the manifest (with key material) on stdin. */
  async create(manifest: object): Promise<SecretObject> {
    const r = await this.call('create', ['-f', '-', '-o', 'json', '--validate=false'], {
      input: JSON.stringify(manifest),
    });
    return JSON.parse(r.stdout) as SecretObject;
  }

  /** `kubectl replace -f -` with metadata.resourceVersion set: a stale version is a 409 (BusyError). */
  async replace(manifest: object): Promise<SecretObject> {
    const r = await this.call('replace', ['-f', '-', '-o', 'json', '--validate=false'], {
      input: JSON.stringify(manifest),
    });
    return JSON.parse(r.stdout) as SecretObject;
  }

  /** An RFC 6902 JSON patch of one secret; answers the secret as it is afterwards. */
  async patchSecretJson(name: string, patch: string): Promise<SecretObject> {
    const r = await this.call('patch', [
      'secret',
      '--type=json',
      '-p',
      patch,
      '-o',
      'json',
      ...positional('secret', [name]),
    ]);
    return JSON.parse(r.stdout) as SecretObject;
  }

  /** A deployment's generation and its pod template's restartedAt (what `rollout restart` sets). */
  async restartedAt(deployment: string): Promise<{ generation: number; restartedAt?: string }> {
    const path =
      '{.metadata.generation}{"\\t"}{.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}';
    const r = await this.call('get', [
      'deployment',
      '-o',
      `jsonpath=${path}`,
      ...positional('deployment', [deployment]),
    ]);
    const [gen, at] = r.stdout.split('\t');
    return { generation: Number(gen ?? 0), restartedAt: at || undefined };
  }

  /** Namespaces matching a label selector (-A -l). */
  async namespacesMatching(selector: string): Promise<string[]> {
    const r = await this.call('get', ['namespaces', '-l', selector, '-o', 'json']);
    return answered('namespaces', (JSON.parse(r.stdout) as { items: { metadata: { name: string } }[] }).items).map(
      (n) => n.metadata.name,
    );
  }

  async deleteSecret(name: string): Promise<void> {
    await this.call('delete', ['secret', '--ignore-not-found', '--wait=false', ...positional('secret', [name])]);
  }

  async rolloutRestart(deployments: string[]): Promise<void> {
    await this.call('rollout', ['restart', ...positional('deployment', deployments, true)]);
  }

  async rolloutStatus(deployment: string, timeoutS: number, onLine?: (l: string) => void): Promise<void> {
    const r = await this.call(
      'rollout',
      ['status', `--timeout=${timeoutS}s`, ...positional('deployment', [deployment], true)],
      { onLine, allowFail: true, timeoutMs: (timeoutS + 15) * 1000 },
    );
    if (r.exitCode !== 0) {
      const why = redact(r.stderr.trim()).split('\n').pop() ?? 'rollout failed';
      throw new KubectlError(
        `the rollout of deployment/${deployment} in ${this.where()} did not finish: ${why.replace(/^error: /, '')}`,
        { verb: 'rollout', args: [], stderr: r.stderr, reason: 'RolloutFailed' },
      );
    }
  }

  /** `kubectl auth can-i --list`: one call for every permission the install needs. */
  async permissions(): Promise<Permissions> {
    const r = await this.call('auth', ['can-i', '--list']);
    return parseCanIList(r.stdout);
  }
}

export interface Permissions {
  can(verb: string, resource: string, name?: string): boolean;
}

/** Parse the table of `kubectl auth can-i --list` (no -o json exists for it). */
export function parseCanIList(text: string): Permissions {
  const rules: { resource: string; names: string[]; verbs: string[] }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$/.exec(line);
    if (!m) continue;
    rules.push({
      resource: m[1]!,
      names: m[3]!.split(/\s+/).filter(Boolean),
      verbs: m[4]!.split(/\s+/).filter(Boolean),
    });
  }
  const resMatch = (rule: string, want: string) => {
    if (rule === '*' || rule === '*.*') return true;
    const [r, g = ''] = rule.split(/\.(.*)/s);
    const [wr, wg = ''] = want.split(/\.(.*)/s);
    return (r === '*' || r === wr) && (g === '*' || g === wg);
  };
  return {
    can: (verb, resource, name) =>
      rules.some(
        (r) =>
          resMatch(r.resource, resource) &&
          (r.verbs.includes('*') || r.verbs.includes(verb)) &&
          (r.names.length === 0 || (name !== undefined && r.names.includes(name))),
      ),
  };
}

/**
 * Object names as kubectl's positional arguments, after "--" (the end of options for cobra/pflag,
 * as for getopt(3)), each checked as an RFC 1123 name: a name that reached here unchecked and
 * starts with "-" must never be parsed as a flag. `asResource`: "deployment/NAME" (rollout's form).
 */
export function positional(kind: 'secret' | 'deployment', names: readonly string[], asResource = false): string[] {
  for (const n of names) refuseName(kind, n);
  return ['--', ...names.map((n) => (asResource ? `${kind}/${n}` : n))];
}

function refuseName(kind: NameKind, name: string): void {
  if (isK8sName(kind, name as unknown)) return;
  const why = name.startsWith('-') ? 'it would be read as a flag' : 'it is not a valid Kubernetes name';
  throw new KubectlError(`refusing to pass ${quoted(name)} to kubectl as a ${kind} name: ${why}`, {
    verb: 'get',
    args: [],
    reason: 'Invalid',
    hint: 'Names are RFC 1123 (lower-case letters, digits, "-" and "."); kubectl was not run.',
  });
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

/**
 * Names and namespaces of the objects the cluster answered, checked before any becomes an argument
 * (a deployment to restart, a backup to delete): an API server validates them (RFC 1123), so one
 * that is not is a sign that the server, or the kubectl binary, is not what it claims to be.
 */
function answered<T>(what: string, items: T[]): T[] {
  for (const it of items) {
    const m = (it as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    const isDeployment = /deployment/.test(what) && (it as { kind?: string }).kind !== 'Secret';
    const kind: NameKind = isDeployment ? 'deployment' : /namespace/.test(what) ? 'namespace' : 'secret';
    checkK8sName(kind, m?.name, { cluster: `kubectl get ${what}` });
    if (m?.namespace !== undefined) checkK8sName('namespace', m.namespace, { cluster: `kubectl get ${what}` });
  }
  return items;
}
