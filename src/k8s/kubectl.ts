// The cluster boundary. A Kubectl names one cluster (kubeconfig + context) and one namespace; its
// requests go to the Kubernetes REST API through the run's one `kubectl proxy --unix-socket`
// (connection.ts, proxy.ts), so every authentication kubectl supports keeps working and one kubectl
// process serves the whole run. Bodies, which may hold key material, travel on the socket only.
// Failures become one-line errors worded as kubectl would (`Error from server (Reason): message`,
// kubectl-http-trace.md §3.1), redacted. What each request asks lives by topic (secrets.ts,
// deployments.ts, auth.ts); the class's methods of those names hand over to them.
import { BusyError, KubectlError, XsoarCertError } from '../errors.js';
import { answered, refuseName } from './names.js';
import { redact } from '../redact.js';
import { childEnv } from '../child-env.js';
import { accessByRules, accessReviews, permissions, type AccessCheck, type Permissions } from './auth.js';
import { clusterApi } from './connection.js';
import { TransportError, type Api, type ApiReply, type ApiRequest, type WatchRequest } from './rest.js';
import { ALL_NAMESPACES, fromServer, itemsOf, query } from './wire.js';
import { each, type EachPatch, type EachResult, type EachVerb } from './batch.js';
import {
  listDeployments,
  restartedAt,
  rolloutRestart,
  rolloutStatus,
  watchDeployments,
  type Deployment,
} from './deployments.js';
import {
  createSecret,
  deleteSecret,
  getSecret,
  listAll,
  listAllIfAllowed,
  listAllMetadata,
  listSecrets,
  listSecretsAndDeployments,
  patchSecretJson,
  replaceSecret,
  tlsSecretNames,
  type Selectors,
  type SecretObject,
} from './secrets.js';

export { childEnv, ALL_NAMESPACES };

export interface KubectlOptions {
  context?: string;
  kubeconfig?: string;
  namespace: string;
  /** The API (unit tests inject one); by default the run's proxy for this cluster. */
  api?: Api;
  bin?: string;
  timeoutMs?: number;
}

/** A request as a Kubectl sends it: the deadline and the abort signal are its own. */
export type Request = Omit<ApiRequest, 'timeoutMs' | 'signal'> & { timeoutMs?: number };

/** How an API server that could not be reached reads (the proxy's answer: Go's net errors; kubectl's own words). */
const UNREACHABLE =
  /Unable to connect to the server|connection refused|The connection to the server .* was refused|no such host|i\/o timeout|couldn't get current server API group list|dial tcp/;

export type Lookup<T> = { found: false } | { found: true; object: T };

export class Kubectl {
  readonly namespace: string;
  readonly context?: string;
  /** How long one request may take, in ms. */
  readonly timeoutMs: number;
  /** Where requests go (batch.ts sends on it directly). */
  readonly api: Api;
  private readonly opts: KubectlOptions;
  /** Aborts every request in flight (SIGINT/SIGTERM during a transaction). */
  signal?: AbortSignal;

  constructor(opts: KubectlOptions) {
    this.opts = opts;
    this.namespace = opts.namespace;
    this.context = opts.context;
    if (opts.context !== undefined) refuseName('context', opts.context);
    // XSOAR_CERT_KUBECTL_TIMEOUT (seconds): how long one request may take (default 60), for a slow API server.
    const envTimeout = Number(process.env.XSOAR_CERT_KUBECTL_TIMEOUT);
    this.timeoutMs = opts.timeoutMs ?? (envTimeout > 0 ? envTimeout * 1000 : 60_000);
    const bin = opts.bin ?? process.env.XSOAR_CERT_KUBECTL ?? 'kubectl';
    // The proxy itself may take longer to start than a request (an exec plugin logging in).
    const start = Math.max(this.timeoutMs, 30_000);
    this.api = opts.api ?? clusterApi({ bin, kubeconfig: opts.kubeconfig, context: opts.context, timeoutMs: start });
  }

  where(): string {
    const ns = this.namespace === ALL_NAMESPACES ? 'all namespaces' : `namespace "${this.namespace}"`;
    return `${ns}${this.context ? ` (context ${this.context})` : ''}`;
  }

  /** The same cluster without a namespace pin: for lists across namespaces. */
  acrossNamespaces(): Kubectl {
    return this.forNamespace(ALL_NAMESPACES);
  }

  /** The same cluster (and the same proxy), pinned to another namespace. */
  forNamespace(namespace: string): Kubectl {
    return new Kubectl({ ...this.opts, namespace, api: this.api, timeoutMs: this.timeoutMs });
  }

  /** The path of a resource in this Kubectl's namespace (or every namespace); names checked (RFC 1123). */
  path(group: '' | 'apps', resource: string, name?: string, namespace = this.namespace): string {
    const base = group ? `/apis/${group}/v1` : '/api/v1';
    if (namespace !== ALL_NAMESPACES) refuseName('namespace', namespace);
    if (name !== undefined) refuseName(resource === 'deployments' ? 'deployment' : 'secret', name);
    const ns = namespace === ALL_NAMESPACES ? '' : `/namespaces/${namespace}`;
    return `${base}${ns}/${resource}${name === undefined ? '' : `/${name}`}`;
  }

  /**
   * One request; a 2xx answers its JSON, anything else throws the error kubectl would have printed
   * (`allow`: statuses that are answers here, e.g. 404 for "is it there?").
   */
  async send(verb: string, r: Request, allow: number[] = []): Promise<ApiReply> {
    let reply: ApiReply;
    try {
      reply = await this.api.request({ ...r, timeoutMs: r.timeoutMs ?? this.timeoutMs, signal: this.signal });
    } catch (err) {
      throw this.transportError(verb, err);
    }
    if ((reply.status >= 200 && reply.status < 300) || allow.includes(reply.status)) return reply;
    throw this.error(verb, fromServer(reply));
  }

  /** A watch on this cluster (rollout status); transport failures as errors. */
  async watch(verb: string, w: Omit<WatchRequest, 'signal'>): Promise<boolean> {
    try {
      return await this.api.watch({ ...w, signal: this.signal });
    } catch (err) {
      throw this.transportError(verb, err);
    }
  }

  private transportError(verb: string, err: unknown): XsoarCertError {
    if (err instanceof XsoarCertError) return err;
    const code = err instanceof TransportError ? err.code : 'EIO';
    const message = redact((err as Error).message);
    if (code === 'ETIMEDOUT')
      return new KubectlError(`kubectl ${verb} timed out for ${this.where()}`, {
        verb,
        args: [],
        stderr: message,
        reason: 'Timeout',
        hint: 'The API server is slow or unreachable; try again.',
      });
    if (code === 'EABORTED')
      return new KubectlError(`kubectl ${verb} was interrupted for ${this.where()}`, {
        verb,
        args: [],
        reason: 'Aborted',
      });
    return new KubectlError(
      `cannot reach the cluster for ${this.where()}: the kubectl proxy connection failed (${message})`,
      {
        verb,
        args: [],
        stderr: `${code}: ${message}`,
        reason: 'Unreachable',
        hint: 'Check KUBECONFIG / --context and that the API server is up (kubectl cluster-info).',
      },
    );
  }

  /** One line that names the object and says what to do, from kubectl-style error text (redacted). */
  error(verb: string, text: string): XsoarCertError {
    const stderr = redact(text.trim());
    const first = stderr.split('\n').filter((l) => !/^Warning:/.test(l))[0] ?? `kubectl ${verb} failed`;
    const reason = /Error from server \((\w+)\)/.exec(stderr)?.[1];
    if (reason === 'Conflict')
      return new BusyError(
        `the secret changed while xsoar-cert was working (${this.where()}): ${first.replace(/^Error from server \(Conflict\): /, '')}`,
        'Someone else changed it; run status, then try again.',
      );
    if (reason === 'Forbidden')
      return new KubectlError(
        `permission denied in ${this.where()}: ${first.replace(/^Error from server \(Forbidden\): /, '')}`,
        { verb, args: [], stderr, reason, hint: 'Ask your cluster admin for this RBAC permission.' },
      );
    if (UNREACHABLE.test(stderr)) {
      return new KubectlError(`cannot reach the cluster for ${this.where()}: ${first}`, {
        verb,
        args: [],
        stderr,
        reason: 'Unreachable',
        hint: 'Check KUBECONFIG / --context and that the API server is up (kubectl cluster-info).',
      });
    }
    return new KubectlError(`kubectl ${verb} failed for ${this.where()}: ${first}`, { verb, args: [], stderr, reason });
  }

  /** Namespaces matching a label selector (-A -l). */
  async namespacesMatching(selector: string): Promise<string[]> {
    const r = await this.send('get', {
      method: 'GET',
      path: `/api/v1/namespaces${query({ labelSelector: selector })}`,
    });
    return answered('namespaces', itemsOf<{ metadata: { name: string } }>(r)).map((n) => n.metadata.name);
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
  listAll<T>(kind: 'secrets' | 'deployments', sel: Selectors = {}): Promise<T[]> {
    return listAll<T>(this, kind, sel);
  }
  listAllIfAllowed<T>(kind: 'secrets' | 'deployments', sel: Selectors = {}): Promise<T[] | undefined> {
    return listAllIfAllowed<T>(this, kind, sel);
  }
  listAllMetadata(sel: Selectors): Promise<SecretObject[]> {
    return listAllMetadata(this, sel);
  }
  each(
    verb: EachVerb,
    items: ReadonlyArray<{ kind?: string; metadata: { name: string; namespace?: string } }>,
    fields: string[] = [],
    patch?: EachPatch,
  ): Promise<EachResult[]> {
    return each(this, verb, items, fields, patch);
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
  watchDeployments(seen: (d: Deployment) => boolean, timeoutMs: number): Promise<boolean> {
    return watchDeployments(this, seen, timeoutMs);
  }

  // auth.ts
  permissions(): Promise<Permissions> {
    return permissions(this);
  }
  accessReviews(checks: AccessCheck[]): Promise<boolean[]> {
    return accessReviews(this, checks);
  }
  accessByRules(checks: AccessCheck[]): Promise<boolean[]> {
    return accessByRules(this, checks);
  }
}
