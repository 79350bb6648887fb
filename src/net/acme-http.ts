// Every HTTPS exchange with an ACME CA goes through httpsRequest: the directory, ARI and, as
// acme-client's axios adapter, every API call. Each has a total deadline (a body trickled byte by
// byte is cut too: a socket idle timeout would never fire), a body limit, and never follows a
// redirect (RFC 8555 uses none; one to another host would carry our signed requests there).
// The retry bound: acme-client retries 429 and 5xx answers and waits what Retry-After asks; one
// bound applies to each wait and one to a run's total, beyond which the run ends (exit 9).
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { CaError } from '../errors.js';
import { shown } from './acme-answers.js';

/** A total deadline for one ACME API exchange, and the largest answer taken (chains are ~5 KiB). */
export const API_DEADLINE_MS = 10_000;
export const API_MAX_BYTES = 1024 * 1024;
/** Retry-After up to this many seconds is waited for in the same run; longer ends the run (exit 9). */
export const MAX_RETRY_AFTER_S = 30;
/** All the retry waits of one run together. */
export const MAX_RETRY_TOTAL_S = 60;

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The deadline or the body limit was hit: not worth a retry (the same CA would do it again). */
export class BoundError extends Error {
  constructor(
    message: string,
    readonly bound: 'deadline' | 'size',
  ) {
    super(message);
  }
}

const agents = new Map<Buffer | undefined, https.Agent>();
function agentFor(ca?: Buffer): https.Agent {
  let a = agents.get(ca);
  if (!a) agents.set(ca, (a = new https.Agent({ ca, keepAlive: true, maxSockets: 4 })));
  return a;
}

const size = (n: number) => (n >= 1024 * 1024 ? `${n / 1024 / 1024} MiB` : `${n / 1024} KiB`);

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  ca?: Buffer;
  deadlineMs: number;
  maxBytes: number;
}

/** One HTTPS exchange within a total deadline and a body limit; a redirect is returned, not followed. */
export function httpsRequest(url: string, o: RequestOptions): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    if (!/^https:\/\//i.test(url)) return reject(new Error(`${shown(url)} is not an https URL`));
    let settled = false;
    const finish = (err: Error | undefined, a?: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(a!);
    };
    const opts = { method: o.method ?? 'GET', headers: o.headers, agent: agentFor(o.ca) };
    const req = https.request(url, opts, (res) => {
      const tooBig = () => finish(new BoundError(`sent an answer larger than ${size(o.maxBytes)}`, 'size'));
      if (Number(res.headers['content-length'] ?? 0) > o.maxBytes) return tooBig();
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > o.maxBytes) tooBig();
        else chunks.push(d);
      });
      res.on('end', () => {
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => finish(e));
      const cut = () => Object.assign(new Error('the connection closed before its end'), { code: 'ECONNRESET' });
      res.on('close', () => finish(cut()));
    });
    const late = () => new BoundError(`did not complete its answer within ${o.deadlineMs / 1000} s`, 'deadline');
    const timer = setTimeout(() => finish(late()), o.deadlineMs);
    req.on('error', (e) => finish(e));
    req.end(o.body);
  });
}

/** A network failure in a few words. */
export const causeOf = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'no such host';
  if (e.code === 'ETIMEDOUT') return 'no answer';
  if (e.code === 'ECONNRESET') return 'the connection was reset';
  if (/certificate|self.signed|UNABLE_TO|CERT_/i.test(`${e.code} ${e.message}`)) {
    return `its TLS certificate is not trusted (${e.code ?? e.message})`;
  }
  return e.message;
};

/**
 * The seconds a Retry-After header asks for (RFC 9110 10.2.3: delay-seconds or an HTTP-date), read
 * as acme-client reads it (parseInt, so "3600s" is 3600 s too), or undefined when it asks none.
 */
export function retryAfterSeconds(h: unknown, now = Date.now()): number | undefined {
  if (typeof h !== 'string' || !h.trim()) return undefined;
  const n = parseInt(h, 10);
  if (Number.isSafeInteger(n) && n > 0) return n;
  const at = Date.parse(h);
  return !Number.isNaN(at) && at > now ? Math.ceil((at - now) / 1000) : undefined;
}

/**
 * How long acme-client is about to wait before retrying an answer (or a network error), checked
 * against the bounds: a CaError to end the run, else the seconds it may wait (0: no retry follows).
 */
export interface RetryState {
  status?: number;
  retryAfter?: unknown;
  /** acme-client's attempt number for this retry (1 = the first retry), its maximum and default delay. */
  attempt: number;
  maxAttempts: number;
  defaultDelayS: number;
  /** Seconds waited for retries so far in this run. */
  waitedS: number;
  ca: string;
}

export function retryWait(o: RetryState): number {
  if (o.attempt > o.maxAttempts) return 0;
  const asked = retryAfterSeconds(o.retryAfter);
  const wait = asked ?? o.defaultDelayS * o.attempt;
  const answered = o.status ? `HTTP ${o.status}` : 'with a network error';
  const what = o.status === 429 ? 'the CA is rate limiting (HTTP 429)' : `the CA answered ${answered}`;
  const total = o.waitedS + wait;
  const over =
    wait > MAX_RETRY_AFTER_S
      ? `and asks to retry after ${wait} s`
      : total > MAX_RETRY_TOTAL_S
        ? `again: its retries would wait ${total} s in this run (over ${MAX_RETRY_TOTAL_S} s)`
        : '';
  if (over) {
    const msg = `${what} ${over}: nothing was changed; the next scheduled renew asks ${o.ca} again`;
    throw new CaError(msg, undefined, { retryAfterS: asked });
  }
  return wait;
}
