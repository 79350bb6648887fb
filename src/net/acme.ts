// RFC 8555 with acme-client (loaded lazily, on this path only): the directory checked first by
// ourselves (acme-client retries a network or TLS error for over a minute and then hides the
// cause), the account reused by its stored URL (re-registering a known key sends an empty update
// that some CAs refuse), every answer's shape checked before it is used (acme-answers.ts), every
// challenge published and checked before any is answered, and short polling. Every exchange is
// bounded (acme-http.ts). The caller publishes and removes challenge responses (ops/sources/acme.ts).
import { createHash } from 'node:crypto';
import { CaError, CancelledError } from '../errors.js';
import { AnswerCheck, identifiersOf, oneLine, shown } from './acme-answers.js';
import type { CheckedAuthz, CheckedChallenge, CheckedDirectory, CheckedOrder, Identifier } from './acme-answers.js';
import { API_DEADLINE_MS, API_MAX_BYTES, BoundError, causeOf, httpsRequest, retryWait } from './acme-http.js';

export { MAX_RETRY_AFTER_S } from './acme-http.js';

export interface Directory {
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  renewalInfo?: string;
  /** The checked resource URLs, handed to acme-client so it never reads the directory unchecked. */
  resources?: CheckedDirectory;
}

const directories = new Map<string, Promise<Directory>>();

/**
 * GET the directory with our own trust and bounds (once per run: ARI and the order share it):
 * one line that says why it failed.
 */
export function fetchDirectory(url: string, ca?: Buffer, timeoutMs = 10_000): Promise<Directory> {
  let d = directories.get(url);
  if (!d) {
    d = getDirectory(url, ca, timeoutMs);
    directories.set(url, d);
    d.catch(() => directories.delete(url));
  }
  return d;
}

async function getDirectory(url: string, ca: Buffer | undefined, timeoutMs: number): Promise<Directory> {
  if (!/^https:\/\//i.test(url)) throw new CaError(`--acme ${url}: the ACME directory must be an https:// URL`);
  const request = { ca, deadlineMs: timeoutMs, maxBytes: 256 * 1024, headers: { accept: 'application/json' } };
  const a = await httpsRequest(url, request).catch((err: unknown) => {
    const why = err instanceof BoundError ? `it ${err.message}` : causeOf(err);
    const hint = /trusted/.test(why)
      ? "Pass the CA certificate that signed the ACME server's TLS certificate with --acme-ca FILE."
      : 'Check the URL and that this host can reach it.';
    throw new CaError(`cannot reach the ACME directory ${url}: ${why}: nothing was changed`, hint);
  });
  if (a.status !== 200) {
    const redirect = a.status >= 300 && a.status < 400;
    const moved = redirect ? ` (a redirect to ${shown(a.headers.location)}, not followed)` : '';
    const todo = "nothing was changed; pass the CA's directory URL with --acme";
    throw new CaError(`cannot reach the ACME directory ${url}: it answered HTTP ${a.status}${moved}: ${todo}`);
  }
  let raw: { newAccount?: unknown; newOrder?: unknown };
  try {
    raw = JSON.parse(a.body.toString('utf8'));
  } catch {
    const le = 'https://acme-v02.api.letsencrypt.org/directory';
    const hint = `Pass the directory URL of the CA (for Let's Encrypt: ${le}).`;
    throw new CaError(`${url} is not an ACME directory (its answer is not JSON)`, hint);
  }
  if (!raw?.newAccount || !raw.newOrder) {
    throw new CaError(`${url} is not an ACME directory (no newAccount/newOrder)`, 'Pass the directory URL of the CA.');
  }
  const dir = new AnswerCheck(new URL(url).host).directory(raw);
  const { termsOfService, externalAccountRequired } = dir.meta;
  return { url, termsOfService, externalAccountRequired, renewalInfo: dir.renewalInfo, resources: dir };
}

export interface Challenge {
  /** The name being validated (without "*."). */
  domain: string;
  wildcard: boolean;
  type: 'dns-01' | 'http-01';
  token: string;
  /** http-01: the body to serve; dns-01: the TXT value (base64url SHA-256 of the key authorization). */
  value: string;
  /** dns-01: _acme-challenge.<domain>. */
  recordName?: string;
}

export interface ObtainOptions {
  directory: Directory;
  ca?: Buffer;
  accountKeyPem: string;
  accountUrl?: string;
  email?: string;
  agreeTos?: boolean;
  eab?: { kid: string; hmacKey: string };
  names: string[];
  csrPem: string;
  type: 'dns-01' | 'http-01';
  /** ARI: the certificate identifier of the certificate this one replaces. */
  replaces?: string;
  /** Publish every response, then check each is visible where the CA will look. */
  publish(challenges: Challenge[]): Promise<void>;
  step(message: string): void;
  signal?: AbortSignal;
}

/** A problem document (RFC 7807) as one escaped line: its detail and short type. */
function problemText(p: unknown): string | undefined {
  const d = p as { detail?: unknown; type?: unknown } | undefined;
  if (typeof d?.detail !== 'string' || !d.detail) return undefined;
  const type = typeof d.type === 'string' ? ` (${oneLine(d.type.replace('urn:ietf:params:acme:error:', ''), 60)})` : '';
  return `${oneLine(d.detail)}${type}`;
}

/** What the CA says in one line: its problem detail, or the network cause. */
export function caMessage(err: unknown): string {
  const e = err as Error & { response?: { status?: number; data?: unknown } };
  return problemText(e.response?.data) ?? oneLine(causeOf(err));
}

type AcmeModule = { Client: typeof import('acme-client').Client; axios: typeof import('acme-client').axios };
type AcmeClient = InstanceType<AcmeModule['Client']>;
let loading: Promise<AcmeModule> | undefined;
/** The ACME server's TLS trust for this run's requests (acme-client's axios is one shared instance). */
let trust: Buffer | undefined;
/** Seconds of retry waits so far in this run (MAX_RETRY_TOTAL_S). */
let retriedS = 0;

async function acmeClient(ca?: Buffer): Promise<AcmeModule> {
  loading ??= loadAcmeClient();
  const acme = await loading;
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

/** Start loading acme-client (and axios) now, while other work runs; obtainCertificate awaits it. */
export function preloadAcmeClient(): void {
  (loading ??= loadAcmeClient()).catch(() => undefined);
}

interface Run {
  o: ObtainOptions;
  client: AcmeClient;
  check: AnswerCheck;
  ordered: Identifier[];
  /** Calls the CA: anything but our own errors becomes "the CA refused WHAT: ..." (exit 9). */
  ca<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

/** acme-client reads the directory we checked, not a second, unchecked copy. */
function seedDirectory(client: AcmeClient, d: Directory): void {
  const http = (client as unknown as { http?: { directoryCache?: unknown; directoryTimestamp?: number } }).http;
  if (!http || !d.resources) return;
  http.directoryCache = JSON.parse(JSON.stringify(d.resources));
  http.directoryTimestamp = Math.floor(Date.now() / 1000);
}

/** The account URL and the issued chain (leaf first). Throws CaError for anything the CA refused or sent amiss. */
export async function obtainCertificate(o: ObtainOptions): Promise<{ chainPem: string; accountUrl: string }> {
  const acme = await acmeClient(o.ca);
  const client = new acme.Client({
    directoryUrl: o.directory.url,
    accountKey: o.accountKeyPem,
    accountUrl: o.accountUrl,
    externalAccountBinding: o.eab,
  });
  seedDirectory(client, o.directory);
  const run: Run = {
    o,
    client,
    check: new AnswerCheck(new URL(o.directory.url).host),
    ordered: identifiersOf(o.names),
    async ca(what, fn) {
      if (o.signal?.aborted) {
        throw new CancelledError('Cancelled (Ctrl-C / SIGTERM) while talking to the CA: nothing was changed.');
      }
      try {
        return await fn();
      } catch (err) {
        if (err instanceof CaError || err instanceof CancelledError) throw err;
        throw new CaError(`the CA refused ${what}: ${caMessage(err)}: nothing was changed`);
      }
    },
  };
  const accountUrl = await account(run);
  o.step(`ACME order: ${o.names.join(', ')}`);
  const order = await run.ca('the order', async () => {
    const request = { identifiers: run.ordered, ...(o.replaces ? { replaces: o.replaces } : {}) };
    const x = await client.createOrder(request as Parameters<typeof client.createOrder>[0]);
    return run.check.order(x, (x as { url?: unknown } | null)?.url, run.ordered);
  });
  // Every authorization checked (its name was ordered, its challenge token is base64url) before
  // anything is published: a bad one leaves no record, no hook call and no file behind.
  const authzs = await run.ca('the authorizations', async () =>
    (await client.getAuthorizations(order as never)).map((a, i) =>
      run.check.authz(a, order.authorizations[i]!, run.ordered),
    ),
  );
  const picked = await Promise.all(authzs.filter((a) => a.status !== 'valid').map((a) => pick(run, a)));
  run.check.published = true;
  await o.publish(picked.map((p) => p.c));
  o.step(`ACME validation: ${picked.length} challenge${picked.length === 1 ? '' : 's'}`);
  await run.ca('a challenge', async () => {
    await Promise.all(
      picked.map(async (p) => {
        run.check.challengeAnswer(await client.completeChallenge(p.ch as never));
      }),
    );
    await Promise.all(
      picked.map((p) =>
        untilValid(
          run,
          p.authz,
          async () => {
            const [a] = await client.getAuthorizations({ authorizations: [p.authz.url] } as never);
            return run.check.authz(a, p.authz.url, run.ordered);
          },
          (a) => problemText(a.challenges.find((c) => c.type === o.type)?.error),
        ),
      ),
    );
  });
  o.step('ACME finalize: sending the certificate request');
  const done = await run.ca('the certificate request', async () => {
    const fin = run.check.order(await client.finalizeOrder(order as never, o.csrPem), order.url, run.ordered);
    const next = async () => run.check.order(await client.getOrder(fin as never), order.url, run.ordered);
    return untilValid(run, fin, next, (x) => problemText(x.error));
  });
  if (!done.certificate) throw run.check.refuse('a valid order without a "certificate" URL:', done);
  const chain = await run.ca('the certificate download', () => client.getCertificate(done as never));
  const chainPem = run.check.chain(chain);
  return { chainPem, accountUrl };
}

async function account(run: Run): Promise<string> {
  const { o, client } = run;
  if (!o.accountUrl) {
    o.step(`ACME account: registering${o.email ? ` ${o.email}` : ''} at ${o.directory.url}`);
    const contact = o.email ? { contact: [`mailto:${o.email}`] } : {};
    const request = { termsOfServiceAgreed: Boolean(o.agreeTos), ...contact };
    await run.ca('the account', () => client.createAccount(request));
  }
  return run.check.url(await run.ca('the account', async () => client.getAccountUrl()), 'an account location');
}

/** The challenge of our type in a checked authorization, with its response value. */
async function pick(run: Run, a: CheckedAuthz): Promise<{ authz: CheckedAuthz; ch: CheckedChallenge; c: Challenge }> {
  const { o } = run;
  const name = a.identifier.value;
  if (a.status !== 'pending') {
    const todo = 'nothing was published or changed; the next scheduled renew orders again';
    throw new CaError(`the CA at ${run.check.ca} holds the authorization for ${name} as ${a.status}: ${todo}`);
  }
  const ch = a.challenges.find((c) => c.type === o.type);
  if (!ch) {
    const offered = shown(a.challenges.map((c) => c.type).join(', '));
    const hint = 'Choose another challenge type.';
    throw new CaError(`the CA offers no ${o.type} challenge for ${name} (it offers ${offered})`, hint);
  }
  const token = run.check.token(ch);
  const value = await run.client.getChallengeKeyAuthorization({ ...ch, token } as never);
  const domain = a.identifier.value;
  const recordName = o.type === 'dns-01' ? `_acme-challenge.${domain}` : undefined;
  return { authz: a, ch, c: { domain, wildcard: a.wildcard, type: o.type, token, value, recordName } };
}

/** Wait `ms`, or stop at once on the signal. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cancel = () => {
      clearTimeout(t);
      reject(new CancelledError('Cancelled (Ctrl-C / SIGTERM) during the ACME validation: nothing was changed.'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', cancel);
      resolve();
    }, ms);
    if (signal?.aborted) return cancel();
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

const POLL_ATTEMPTS = 40;

/**
 * Poll an authorization or an order (RFC 8555 7.5.1) until it is valid: each answer checked, a
 * short backoff (0.2 s doubling to 1.5 s, about a minute in all), "invalid" is the CA's refusal.
 */
async function untilValid<T extends CheckedAuthz | CheckedOrder>(
  run: Run,
  first: T,
  next: () => Promise<T>,
  why: (x: T) => string | undefined,
): Promise<T> {
  let x = first;
  for (let i = 0; x.status !== 'valid'; i++) {
    const refused = ['invalid', 'deactivated', 'expired', 'revoked'].includes(x.status);
    if (refused) throw new Error(why(x) ?? `it is ${x.status}`);
    if (i >= POLL_ATTEMPTS) {
      const todo = 'nothing was changed; the next scheduled renew tries again';
      throw new CaError(`the CA at ${run.check.ca} still says "${x.status}" after ${POLL_ATTEMPTS} checks: ${todo}`);
    }
    await pause(Math.min(200 * 2 ** i, 1500), run.o.signal);
    x = await next();
  }
  return x;
}

/** RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial DER bytes). */
export function ariCertId(authorityKeyId: Buffer, serialDer: Buffer): string {
  return `${authorityKeyId.toString('base64url')}.${serialDer.toString('base64url')}`;
}

/** A stable file name for one directory URL's account. */
export const accountSlug = (url: string) => createHash('sha256').update(url).digest('hex').slice(0, 16);

/** The ARI certificate identifier of a certificate (its AKI keyIdentifier and its serial's DER bytes). */
export async function ariCertIdOf(certPem: string): Promise<string | undefined> {
  await import('reflect-metadata'); // @peculiar/x509 needs the polyfill loaded first (as in pki/generate.ts)
  const x509 = await import('@peculiar/x509');
  const cert = new x509.X509Certificate(certPem);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) return undefined;
  let serial = Buffer.from(cert.serialNumber, 'hex');
  if (serial[0]! & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]); // DER INTEGER: positive
  return ariCertId(Buffer.from(aki.keyId, 'hex'), serial);
}

/** ARI is advice: its exchange is bounded tighter than the order's, and a failure only loses the window. */
const ARI_DEADLINE_MS = 5_000;
const ARI_MAX_BYTES = 64 * 1024;

/**
 * RFC 9773: the CA's suggested renewal window for a certificate, or undefined when it has none.
 * A renewalInfo that fails (no answer in time, too large, not a window) is "no window": `note`
 * says why and the renewal policy decides; a 404 (the CA does not know the certificate) is silent.
 */
export async function fetchRenewalWindow(
  dir: Directory,
  certId: string,
  ca?: Buffer,
  note: (why: string) => void = () => undefined,
): Promise<{ start: Date; end: Date } | undefined> {
  if (!dir.renewalInfo) return undefined;
  const url = `${dir.renewalInfo.replace(/\/$/, '')}/${certId}`;
  const noWindow = (why: string) => {
    note(`the CA's renewalInfo ${shown(url, 120)} ${why}: no renewal window, the renewal policy decides`);
    return undefined;
  };
  let a;
  try {
    const headers = { accept: 'application/json' };
    a = await httpsRequest(url, { ca, deadlineMs: ARI_DEADLINE_MS, maxBytes: ARI_MAX_BYTES, headers });
  } catch (err) {
    return noWindow(err instanceof BoundError ? err.message : `failed: ${causeOf(err)}`);
  }
  if (a.status === 404) return undefined;
  if (a.status !== 200) return noWindow(`answered HTTP ${a.status}`);
  try {
    type Info = { suggestedWindow?: { start?: unknown; end?: unknown } } | null;
    const w = (JSON.parse(a.body.toString('utf8')) as Info)?.suggestedWindow;
    const start = new Date(typeof w?.start === 'string' ? w.start : NaN);
    const end = new Date(typeof w?.end === 'string' ? w.end : NaN);
    if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end < start) {
      return noWindow('answered with no valid suggestedWindow');
    }
    return { start, end };
  } catch {
    return noWindow('answered with something that is not JSON');
  }
}
