// acme-client, set up once per run and loaded only on the ACME path: its requests go through our
// bounded HTTPS exchange (acme-http.ts: deadline, body limit, no redirects) as its axios adapter,
// under this run's TLS trust, and each retry wait it is about to make is bounded first (retryWait).
// It reads the directory we checked, never a second, unchecked copy.
import { CaError } from '../errors.js';
import { shown } from './acme-answers.js';
import type { CheckedDirectory } from './acme-answers.js';
import { API_DEADLINE_MS, API_MAX_BYTES, BoundError, httpsRequest, retryWait } from './acme-http.js';

type AcmeModule = { Client: typeof import('acme-client').Client; axios: typeof import('acme-client').axios };
export type AcmeClient = InstanceType<AcmeModule['Client']>;
let loading: Promise<AcmeModule> | undefined;
/** The ACME server's TLS trust for this run's requests (acme-client's axios is one shared instance). */
let trust: Buffer | undefined;
/** Seconds of retry waits so far in this run (MAX_RETRY_TOTAL_S). */
let retriedS = 0;

/** acme-client and its axios instance, loaded and set up once (a preload starts it early). */
export function loadAcme(): Promise<AcmeModule> {
  return (loading ??= loadAcmeClient());
}

/** acme-client, its requests trusting `ca` for the ACME server's TLS (Node's CA store when undefined). */
export async function acmeClient(ca?: Buffer): Promise<AcmeModule> {
  const acme = await loadAcme();
  trust = ca;
  return acme;
}

interface AxiosConfig {
  url?: string;
  method?: string;
  headers?: { toJSON?: () => Record<string, unknown> };
  data?: unknown;
  validateStatus?: ((status: number) => boolean) | null;
  retryAttempt?: number;
}
interface AxiosResponse {
  data: unknown;
  status: number;
  statusText: string;
  headers: Record<string, unknown>;
  config: AxiosConfig;
  request: unknown;
}
interface AxiosFailure {
  config?: AxiosConfig;
  response?: AxiosResponse;
  code?: string;
}
interface AxiosInstance {
  defaults: { acmeSettings: Record<string, number>; timeout: number; adapter?: unknown; maxRedirects?: number };
  interceptors: { response: { handlers: unknown[] } };
}

const hostOf = (url: unknown) => {
  try {
    return new URL(String(url)).host;
  } catch {
    return shown(url, 60);
  }
};

/** acme-client's transport: each API call through httpsRequest (deadline, body limit, no redirects). */
async function adapter(config: AxiosConfig): Promise<AxiosResponse> {
  const url = String(config.url);
  const where = `${String(config.method ?? 'get').toUpperCase()} ${shown(url, 80)}`;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.headers?.toJSON?.() ?? {})) {
    if (v !== undefined && v !== null && v !== false) headers[k] = String(v);
  }
  const data = config.data;
  const text = data === undefined || data === null ? undefined : typeof data === 'string' ? data : JSON.stringify(data);
  const body = text === undefined ? undefined : Buffer.from(text);
  if (body) headers['content-length'] = String(body.length);
  const bounds = { ca: trust, deadlineMs: API_DEADLINE_MS, maxBytes: API_MAX_BYTES };
  const method = config.method?.toUpperCase();
  const a = await httpsRequest(url, { method, headers, body, ...bounds }).catch((err: Error) => {
    if (err instanceof BoundError) {
      const todo = 'nothing was changed; the next scheduled renew tries again';
      throw new CaError(`the CA at ${hostOf(url)} ${err.message} to ${where}: ${todo}`);
    }
    throw Object.assign(err, { config }); // a network error: acme-client's retry handler decides
  });
  if (a.status >= 300 && a.status < 400) {
    const to = shown(a.headers.location, 80);
    const todo = "ACME requests are not redirected, nothing was changed; pass the CA's own directory URL with --acme";
    throw new CaError(`the CA at ${hostOf(url)} redirected ${where} to ${to}: ${todo}`);
  }
  const response: AxiosResponse = {
    data: a.body.toString('utf8'),
    status: a.status,
    statusText: '',
    headers: { ...a.headers },
    config,
    request: {},
  };
  // acme-client sends every answer down axios's error path (its validateStatus is always false).
  if (config.validateStatus && !config.validateStatus(a.status)) {
    const err = new Error(`Request failed with status code ${a.status}`);
    throw Object.assign(err, { config, response, isAxiosError: true });
  }
  return response;
}

/** Runs before acme-client's retry handler: the wait it is about to make, bounded (retryWait). */
function boundRetries(ax: AxiosInstance) {
  return (err: AxiosFailure) => {
    const res = err.response;
    const cfg = err.config;
    // Without a config it is ours (a CaError) or not an axios failure: acme-client passes it on.
    if (!cfg) return Promise.reject(err);
    const retried = res ? res.status === 429 || (res.status >= 500 && res.status <= 599) : err.code !== 'ECONNABORTED';
    if (!retried) return Promise.reject(err);
    const s = ax.defaults.acmeSettings;
    const wait = retryWait({
      status: res?.status,
      retryAfter: res?.headers['retry-after'],
      attempt: (cfg.retryAttempt ?? 0) + 1,
      maxAttempts: s.retryMaxAttempts!,
      defaultDelayS: s.retryDefaultDelay!,
      waitedS: retriedS,
      ca: hostOf(cfg.url),
    });
    retriedS += wait;
    if (res && wait) res.headers['retry-after'] = String(wait); // so acme-client waits exactly what was checked
    return Promise.reject(err);
  };
}

async function loadAcmeClient(): Promise<AcmeModule> {
  // The client and its axios instance only: the package index also loads node-forge (~160 ms).
  // Plain dynamic imports, so the one-file bundle carries the ACME path too.
  const [client, axiosInstance] = await Promise.all([
    import('acme-client/src/client.js'),
    import('acme-client/src/axios.js'),
  ]);
  const loaded: AcmeModule = { Client: client.default, axios: axiosInstance.default };
  const ax = loaded.axios as unknown as AxiosInstance;
  ax.defaults.acmeSettings.retryMaxAttempts = 3;
  ax.defaults.acmeSettings.retryDefaultDelay = 1;
  ax.defaults.adapter = adapter;
  ax.defaults.maxRedirects = 0;
  // acme-client sends every answer to its retry handler as an error; this one runs first.
  const handler = { fulfilled: null, rejected: boundRetries(ax), synchronous: false, runWhen: null };
  ax.interceptors.response.handlers.unshift(handler);
  return loaded;
}

/** acme-client reads the directory we checked, not a second, unchecked copy. */
export function seedDirectory(client: AcmeClient, resources: CheckedDirectory | undefined): void {
  const http = (client as unknown as { http?: { directoryCache?: unknown; directoryTimestamp?: number } }).http;
  if (!http || !resources) return;
  http.directoryCache = JSON.parse(JSON.stringify(resources));
  http.directoryTimestamp = Math.floor(Date.now() / 1000);
}
