// RFC 8555 with acme-client (loaded lazily, on this path only): the directory checked first by
// ourselves (acme-client retries a network or TLS error for over a minute and then hides the
// cause), the account reused by its stored URL (re-registering a known key sends an empty update
// that some CAs refuse), every challenge published and checked before any is answered, and short
// polling. The caller publishes and removes challenge responses (ops/sources/acme.ts).
import https from 'node:https';
import { createHash } from 'node:crypto';
import { CaError, CancelledError } from '../errors.js';

export interface Directory {
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  renewalInfo?: string;
}

/** Retry-After up to this many seconds is waited for in the same run; longer ends the run (exit 9). */
export const MAX_RETRY_AFTER_S = 30;

function agent(ca?: Buffer): https.Agent {
  return new https.Agent({ ca, keepAlive: true, maxSockets: 4 });
}

const causeOf = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'no such host';
  if (e.code === 'ETIMEDOUT' || e.code === 'ECONNRESET') return e.code === 'ETIMEDOUT' ? 'no answer' : 'the connection was reset';
  if (/certificate|self.signed|UNABLE_TO|CERT_/i.test(`${e.code} ${e.message}`)) return `its TLS certificate is not trusted (${e.code ?? e.message})`;
  return e.message;
};

const directories = new Map<string, Promise<Directory>>();

/** GET the directory with our own trust and timeout (once per run: ARI and the order share it): one line that says why it failed. */
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
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.get(url, { agent: agent(ca), timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (text.length > 256 * 1024) req.destroy(new Error('the directory answer is larger than 256 KiB'));
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`it answered HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  }).catch((err: unknown) => {
    throw new CaError(`cannot reach the ACME directory ${url}: ${causeOf(err)}: nothing was changed`, /trusted/.test(causeOf(err)) ? 'Pass the CA certificate that signed the ACME server\'s TLS certificate with --acme-ca FILE.' : 'Check the URL and that this host can reach it.');
  });
  let dir: { newAccount?: string; newOrder?: string; renewalInfo?: string; meta?: { termsOfService?: string; externalAccountRequired?: boolean } };
  try {
    dir = JSON.parse(body);
  } catch {
    throw new CaError(`${url} is not an ACME directory (its answer is not JSON)`, 'Pass the directory URL of the CA (for Let\'s Encrypt: https://acme-v02.api.letsencrypt.org/directory).');
  }
  if (!dir.newAccount || !dir.newOrder) throw new CaError(`${url} is not an ACME directory (no newAccount/newOrder)`, 'Pass the directory URL of the CA.');
  return { url, termsOfService: dir.meta?.termsOfService, externalAccountRequired: Boolean(dir.meta?.externalAccountRequired), renewalInfo: dir.renewalInfo };
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

/** What the CA says in one line: its problem detail, or the network cause. */
export function caMessage(err: unknown): string {
  const e = err as Error & { response?: { status?: number; data?: { detail?: string; type?: string } } };
  const detail = e.response?.data?.detail;
  if (detail) return `${detail}${e.response?.data?.type ? ` (${String(e.response.data.type).replace('urn:ietf:params:acme:error:', '')})` : ''}`;
  return causeOf(err);
}

type AcmeModule = { Client: typeof import('acme-client').Client; axios: typeof import('acme-client').axios };
let loading: Promise<AcmeModule> | undefined;
async function acmeClient(ca?: Buffer): Promise<AcmeModule> {
  loading ??= loadAcmeClient();
  const acme = await loading;
  (acme.axios as unknown as { defaults: { httpsAgent?: https.Agent } }).defaults.httpsAgent = agent(ca);
  return acme;
}

async function loadAcmeClient(): Promise<AcmeModule> {
  // The client and its axios instance only: the package index also loads node-forge (~160 ms).
  // Plain dynamic imports, so the one-file bundle carries the ACME path too.
  const [client, axiosInstance] = await Promise.all([import('acme-client/src/client.js'), import('acme-client/src/axios.js')]);
  const loaded: AcmeModule = { Client: client.default, axios: axiosInstance.default };
  const ax = loaded.axios as unknown as { defaults: { acmeSettings: Record<string, number>; timeout: number; httpsAgent?: https.Agent }; interceptors: { response: { handlers: unknown[] } } };
  ax.defaults.acmeSettings.retryMaxAttempts = 3;
  ax.defaults.acmeSettings.retryDefaultDelay = 1;
  ax.defaults.timeout = 20_000;
  // Honour Retry-After up to a bound; beyond it the run ends (exit 9) and the next cron run retries.
  // acme-client sends every answer down the error path (validateStatus is false) to its retry
  // handler; this one runs first and ends the run instead of a long wait.
  ax.interceptors.response.handlers.unshift({
    fulfilled: null,
    rejected: (err: { response?: { status: number; headers: Record<string, string> } }) => {
      const res = err.response;
      const h = String(res?.headers?.['retry-after'] ?? '');
      const after = /^\d+$/.test(h) ? Number(h) : (Date.parse(h) - Date.now()) / 1000; // seconds, or an HTTP date
      if (res && (res.status === 429 || res.status === 503) && after > MAX_RETRY_AFTER_S) {
        throw new CaError(`the CA is rate limiting (HTTP ${res.status}) and asks to retry after ${Math.round(after)} s: nothing was changed`, 'The next scheduled renew tries again.');
      }
      return Promise.reject(err);
    },
    synchronous: false,
    runWhen: null,
  });
  return loaded;
}

/** Start loading acme-client (and axios) now, while other work runs; obtainCertificate awaits it. */
export function preloadAcmeClient(): void {
  acmeClient().catch(() => undefined);
}

/** The account URL and the issued chain (leaf first). Throws CaError for anything the CA refused. */
export async function obtainCertificate(o: ObtainOptions): Promise<{ chainPem: string; accountUrl: string }> {
  const acme = await acmeClient(o.ca);
  const client = new acme.Client({
    directoryUrl: o.directory.url,
    accountKey: o.accountKeyPem,
    accountUrl: o.accountUrl,
    externalAccountBinding: o.eab,
    backoffAttempts: 40,
    backoffMin: 200,
    backoffMax: 1500,
  });
  const ca = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (o.signal?.aborted) throw new CancelledError('Cancelled (Ctrl-C / SIGTERM) while talking to the CA: nothing was changed.');
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CaError || err instanceof CancelledError) throw err;
      throw new CaError(`the CA refused ${what}: ${caMessage(err)}: nothing was changed`);
    }
  };
  if (!o.accountUrl) {
    o.step(`ACME account: registering${o.email ? ` ${o.email}` : ''} at ${o.directory.url}`);
    await ca('the account', () => client.createAccount({ termsOfServiceAgreed: Boolean(o.agreeTos), ...(o.email ? { contact: [`mailto:${o.email}`] } : {}) }));
  }
  const accountUrl = client.getAccountUrl();
  o.step(`ACME order: ${o.names.join(', ')}`);
  const order = await ca('the order', () => client.createOrder({ identifiers: o.names.map((value) => ({ type: /^[0-9.]+$|:/.test(value) ? 'ip' : 'dns', value })), ...(o.replaces ? { replaces: o.replaces } : {}) } as Parameters<typeof client.createOrder>[0]));
  const authzs = await ca('the authorizations', () => client.getAuthorizations(order));
  const pending = authzs.filter((a) => a.status !== 'valid');
  const picked = await Promise.all(pending.map(async (a) => {
    const ch = a.challenges.find((c) => c.type === o.type);
    if (!ch) throw new CaError(`the CA offers no ${o.type} challenge for ${a.identifier.value} (it offers ${a.challenges.map((c) => c.type).join(', ')})`, 'Choose another challenge type.');
    const keyAuth = await client.getChallengeKeyAuthorization(ch);
    const domain = a.identifier.value;
    return { authz: a, ch, c: { domain, wildcard: Boolean(a.wildcard), type: o.type, token: (ch as { token: string }).token, value: keyAuth, recordName: o.type === 'dns-01' ? `_acme-challenge.${domain}` : undefined } satisfies Challenge };
  }));
  // Every response published (and checked) before the CA is asked to validate any.
  await o.publish(picked.map((p) => p.c));
  o.step(`ACME validation: ${picked.length} challenge${picked.length === 1 ? '' : 's'}`);
  await ca('a challenge', async () => {
    await Promise.all(picked.map((p) => client.completeChallenge(p.ch)));
    await Promise.all(picked.map((p) => abortable(client.waitForValidStatus(p.authz), o.signal)));
  });
  o.step('ACME finalize: sending the certificate request');
  const done = await ca('the certificate request', async () => abortable(client.waitForValidStatus(await client.finalizeOrder(order, o.csrPem)), o.signal));
  const chainPem = await ca('the certificate download', () => client.getCertificate(done));
  return { chainPem, accountUrl };
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CancelledError('Cancelled (Ctrl-C / SIGTERM) during the ACME validation: nothing was changed.'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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

/** RFC 9773: the CA's suggested renewal window for a certificate, or undefined when it has none. */
export async function fetchRenewalWindow(dir: Directory, certId: string, ca?: Buffer): Promise<{ start: Date; end: Date } | undefined> {
  if (!dir.renewalInfo) return undefined;
  const body = await new Promise<string>((resolve, reject) => {
    https.get(`${dir.renewalInfo!.replace(/\/$/, '')}/${certId}`, { agent: agent(ca), timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
    }).on('error', reject);
  }).catch(() => undefined);
  try {
    const w = (JSON.parse(body ?? '') as { suggestedWindow?: { start?: string; end?: string } }).suggestedWindow;
    const start = new Date(w?.start ?? '');
    const end = new Date(w?.end ?? '');
    return Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) ? undefined : { start, end };
  } catch {
    return undefined;
  }
}
