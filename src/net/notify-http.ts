// renew --notify-url: one JSON POST to a webhook (Slack, Teams, a receiver of your own). HTTPS
// (plain http only to this host, checked by ops/notify-settings.ts), a total deadline per try, one
// retry, a redirect never followed (a webhook that moved is a configuration to fix, and following
// it would carry the message elsewhere), and the answer read bounded. The URL often holds the
// webhook's secret (Slack's and Teams' do): messages name only its origin.
import http from 'node:http';
import { BoundError, causeOf, httpsRequest, type Answer, type RequestOptions } from './acme-http.js';

export const NOTIFY_DEADLINE_MS = 10_000;
export const NOTIFY_MAX_ANSWER = 64 * 1024;
const RETRY_PAUSE_MS = 1_000;

/** What a message may say about a webhook URL: its origin. */
export const urlShown = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return 'the URL';
  }
};

/** Plain http, for a receiver on this host only: the same deadline and body limit as httpsRequest. */
function loopbackRequest(url: string, o: RequestOptions): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(url, { method: o.method, headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > o.maxBytes) done(new BoundError(`sent an answer larger than ${o.maxBytes / 1024} KiB`, 'size'));
        else chunks.push(d);
      });
      res.on('end', () =>
        done(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', (e) => done(e));
    });
    const timer = setTimeout(
      () => done(new BoundError(`did not answer within ${o.deadlineMs / 1000} s`, 'deadline')),
      o.deadlineMs,
    );
    let settled = false;
    function done(err: Error | undefined, a?: Answer) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(a!);
    }
    req.on('error', (e) => done(e));
    req.end(o.body);
  });
}

async function postOnce(url: string, body: string, ca: Buffer | undefined): Promise<void> {
  const o: RequestOptions = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'xsoar-cert' },
    body,
    ca,
    deadlineMs: NOTIFY_DEADLINE_MS,
    maxBytes: NOTIFY_MAX_ANSWER,
  };
  const a = /^https:/i.test(url) ? await httpsRequest(url, o) : await loopbackRequest(url, o);
  if (a.status >= 300 && a.status < 400)
    throw Object.assign(new Error(`answered with a redirect (HTTP ${a.status}), which is not followed`), {
      final: true,
    });
  if (a.status < 200 || a.status >= 300) {
    const said = a.body
      .toString('utf8', 0, 200)
      .replace(/[^\x20-\x7e]+/g, ' ')
      .trim();
    const err = new Error(`answered HTTP ${a.status}${said ? `: ${said}` : ''}`);
    // A 4xx other than 408 and 429 is the request's fault: the same request would be refused again.
    throw Object.assign(err, { final: a.status >= 400 && a.status < 500 && a.status !== 408 && a.status !== 429 });
  }
}

/** POST `body` to `url`; one retry after a network error, a deadline, a 408, 429 or 5xx. Throws one line. */
export async function postWebhook(url: string, body: unknown, ca?: Buffer): Promise<void> {
  const text = JSON.stringify(body);
  for (let attempt = 1; ; attempt++) {
    try {
      return await postOnce(url, text, ca);
    } catch (err) {
      const final = (err as { final?: boolean }).final === true || attempt >= 2;
      if (final) throw new Error(`${urlShown(url)}: ${causeOf(err)}${attempt > 1 ? ' (tried twice)' : ''}`);
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    }
  }
}
