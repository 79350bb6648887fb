// RFC 8555 with acme-client (loaded lazily, on this path only): the directory checked first by
// ourselves (acme-client retries a network or TLS error for over a minute and then hides the
// cause), the account reused by its stored URL (re-registering a known key sends an empty update
// that some CAs refuse), every answer's shape checked before it is used (acme-answers.ts), every
// challenge published and checked before any is answered, and short polling. Every exchange is
// bounded (acme-http.ts). The caller publishes and removes challenge responses (ops/sources/acme.ts).
// The order's steps are in acme-order.ts, acme-client's setup in acme-client.ts.
import { createHash } from 'node:crypto';
import { CaError, CancelledError, UsageError } from '../errors.js';
import { AnswerCheck, identifiersOf, shown } from './acme-answers.js';
import type { CheckedAuthz, CheckedChallenge, CheckedDirectory } from './acme-answers.js';
import { BoundError, causeOf, httpsRequest } from './acme-http.js';
import { acmeClient, loadAcme, seedDirectory, type AcmeClient } from './acme-client.js';
import { caMessage, checkedAuthorizations, finalize, placeOrder, validate, type Run } from './acme-order.js';

export interface Directory {
  url: string;
  termsOfService?: string;
  externalAccountRequired: boolean;
  renewalInfo?: string;
  /** The certificate profiles the CA offers (draft-ietf-acme-profiles), when it names any. */
  profiles?: string[];
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
  const { termsOfService, externalAccountRequired, profiles } = dir.meta;
  return { url, termsOfService, externalAccountRequired, profiles, renewalInfo: dir.renewalInfo, resources: dir };
}

/** --acme-profile must name a profile the directory offers: exit 2 before anything is asked of the CA. */
export function assertProfileOffered(d: Directory, profile: string): void {
  if (d.profiles?.includes(profile)) return;
  const offered = d.profiles?.length ? `it offers ${d.profiles.join(', ')}` : 'it offers no profiles';
  throw new UsageError(`--acme-profile ${profile}: the CA at ${d.url} has no such profile (${offered})`);
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
  /** --acme-profile: one of the directory's profiles, sent in the order. */
  profile?: string;
  /** Publish every response, then check each is visible where the CA will look. */
  publish(challenges: Challenge[]): Promise<void>;
  step(message: string): void;
  signal?: AbortSignal;
}

/** Start loading acme-client (and axios) now, while other work runs; obtainCertificate awaits it. */
export function preloadAcmeClient(): void {
  loadAcme().catch(() => undefined);
}

function newRun(o: ObtainOptions, client: AcmeClient): Run {
  return {
    client,
    check: new AnswerCheck(new URL(o.directory.url).host),
    ordered: identifiersOf(o.names),
    type: o.type,
    signal: o.signal,
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
}

/**
 * The account URL and the issued chain (leaf first). Throws CaError for anything the CA refused or
 * sent amiss.
 */
export async function obtainCertificate(o: ObtainOptions): Promise<{ chainPem: string; accountUrl: string }> {
  if (o.profile) assertProfileOffered(o.directory, o.profile);
  const acme = await acmeClient(o.ca);
  const client = new acme.Client({
    directoryUrl: o.directory.url,
    accountKey: o.accountKeyPem,
    accountUrl: o.accountUrl,
    externalAccountBinding: o.eab,
  });
  seedDirectory(client, o.directory.resources);
  const run = newRun(o, client);
  const accountUrl = await account(run, o);
  o.step(`ACME order: ${o.names.join(', ')}`);
  const order = await placeOrder(run, o.replaces, o.profile);
  const authzs = await checkedAuthorizations(run, order);
  const picked = await Promise.all(authzs.filter((a) => a.status !== 'valid').map((a) => pick(run, a)));
  // From here a refusal says the challenge responses were removed (the caller removes them).
  run.check.published = true;
  await o.publish(picked.map((p) => p.c));
  o.step(`ACME validation: ${picked.length} challenge${picked.length === 1 ? '' : 's'}`);
  await validate(run, picked);
  o.step('ACME finalize: sending the certificate request');
  const chainPem = await finalize(run, order, o.csrPem);
  return { chainPem, accountUrl };
}

async function account(run: Run, o: ObtainOptions): Promise<string> {
  const { client } = run;
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
  const name = a.identifier.value;
  if (a.status !== 'pending') {
    const todo = 'nothing was published or changed; the next scheduled renew orders again';
    throw new CaError(`the CA at ${run.check.ca} holds the authorization for ${name} as ${a.status}: ${todo}`);
  }
  const ch = a.challenges.find((c) => c.type === run.type);
  if (!ch) {
    const offered = shown(a.challenges.map((c) => c.type).join(', '));
    const hint = 'Choose another challenge type.';
    throw new CaError(`the CA offers no ${run.type} challenge for ${name} (it offers ${offered})`, hint);
  }
  const token = run.check.token(ch);
  const value = await run.client.getChallengeKeyAuthorization({ ...ch, token } as never);
  const domain = a.identifier.value;
  const recordName = run.type === 'dns-01' ? `_acme-challenge.${domain}` : undefined;
  return { authz: a, ch, c: { domain, wildcard: a.wildcard, type: run.type, token, value, recordName } };
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
