// The one bounded HTTPS exchange (src/net/acme-http.ts) against a real HTTPS server on loopback:
// a total deadline that also cuts a trickled body, a body limit, redirects returned and never
// followed; ARI built on it; and the Retry-After bound on every answer acme-client retries.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateDevCA, generateDevLeaf } from '../../../src/pki/generate.js';
import {
  BoundError,
  httpsRequest,
  MAX_RETRY_AFTER_S,
  MAX_RETRY_TOTAL_S,
  retryAfterSeconds,
  retryWait,
} from '../../../src/net/acme-http.js';
import { fetchRenewalWindow } from '../../../src/net/acme.js';
import { CaError } from '../../../src/errors.js';

let server: https.Server;
let base: string;
let ca: Buffer;
const open = new Set<import('node:http').ServerResponse>();

beforeAll(async () => {
  const root = await generateDevCA({});
  const leaf = await generateDevLeaf({ hosts: ['127.0.0.1'], issuer: root });
  ca = Buffer.from(root.certPem);
  server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (req.url === '/silent/x') return; // never answers
    if (req.url === '/trickle') {
      res.writeHead(200);
      const t = setInterval(() => res.write(' '), 50);
      return res.on('close', () => clearInterval(t));
    }
    if (req.url === '/huge') return res.end('x'.repeat(3 * 1024 * 1024));
    if (req.url === '/redirect') return res.writeHead(302, { location: 'https://elsewhere.example/' }).end();
    if (req.url === '/ari/known')
      return res.end(
        JSON.stringify({ suggestedWindow: { start: '2027-01-01T00:00:00Z', end: '2027-01-02T00:00:00Z' } }),
      );
    if (req.url === '/ari/garbage') return res.end('{"suggestedWindow":{"start":7}}');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const r of open) r.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('finding 9: a body that never ends is cut by the total deadline; a large one at the limit; a redirect is returned, not followed', async () => {
  const started = Date.now();
  await expect(httpsRequest(`${base}/trickle`, { ca, deadlineMs: 700, maxBytes: 1024 * 1024 })).rejects.toThrow(
    new BoundError('did not complete its answer within 0.7 s', 'deadline'),
  );
  expect(Date.now() - started).toBeLessThan(3000);
  await expect(httpsRequest(`${base}/huge`, { ca, deadlineMs: 5000, maxBytes: 1024 * 1024 })).rejects.toThrow(
    'sent an answer larger than 1 MiB',
  );
  const r = await httpsRequest(`${base}/redirect`, { ca, deadlineMs: 5000, maxBytes: 1024 });
  expect({ status: r.status, location: r.headers.location }).toEqual({
    status: 302,
    location: 'https://elsewhere.example/',
  });
  await expect(httpsRequest('http://127.0.0.1:1/', { deadlineMs: 1000, maxBytes: 1 })).rejects.toThrow(
    /is not an https URL/,
  );
});

test('finding 4: a renewalInfo that never answers is no window, within the ARI deadline, with a note; garbage and errors too; 404 is silent', async () => {
  const dir = { url: `${base}/dir`, externalAccountRequired: false, renewalInfo: `${base}/silent/` };
  const notes: string[] = [];
  const started = Date.now();
  expect(await fetchRenewalWindow(dir, 'x', ca, (n) => notes.push(n))).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(8000);
  expect(notes).toEqual([
    `the CA's renewalInfo "${base}/silent/x" did not complete its answer within 5 s: no renewal window, the renewal policy decides`,
  ]);
  const ari = { ...dir, renewalInfo: `${base}/ari` };
  expect(await fetchRenewalWindow(ari, 'known', ca)).toEqual({
    start: new Date('2027-01-01T00:00:00Z'),
    end: new Date('2027-01-02T00:00:00Z'),
  });
  notes.length = 0;
  expect(await fetchRenewalWindow(ari, 'garbage', ca, (n) => notes.push(n))).toBeUndefined();
  expect(await fetchRenewalWindow(ari, 'unknown', ca, (n) => notes.push(n))).toBeUndefined();
  expect(
    await fetchRenewalWindow({ ...dir, renewalInfo: 'https://127.0.0.1:1/ari' }, 'x', ca, (n) => notes.push(n)),
  ).toBeUndefined();
  expect(notes).toEqual([
    expect.stringMatching(/garbage" answered with no valid suggestedWindow/),
    expect.stringMatching(/failed: connection refused: no renewal window/),
  ]);
}, 15000);

test('finding 7: Retry-After in every form acme-client reads: seconds, "Ns", an HTTP-date', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  expect(retryAfterSeconds('3600', now)).toBe(3600);
  expect(retryAfterSeconds('3600s', now)).toBe(3600);
  expect(retryAfterSeconds('Thu, 03 Dec 2026 11:00:00 GMT', now)).toBe(3600);
  expect(retryAfterSeconds('Thu, 03 Dec 2026 09:00:00 GMT', now)).toBeUndefined();
  for (const none of [undefined, '', '0', '-5', 'soon', 12]) expect(retryAfterSeconds(none, now)).toBeUndefined();
});

test("finding 7: one bound for every retried answer (429 and 5xx, each form) and for the run's total", () => {
  const base7 = { attempt: 1, maxAttempts: 3, defaultDelayS: 1, waitedS: 0, ca: 'ca.example' };
  const date = new Date(Date.now() + 3600_000).toUTCString();
  for (const status of [429, 500, 502, 503]) {
    for (const retryAfter of ['3600', '3600s', date]) {
      expect(() => retryWait({ ...base7, status, retryAfter })).toThrow(CaError);
      expect(() => retryWait({ ...base7, status, retryAfter })).toThrow(
        /asks to retry after 3[56]\d\d s: nothing was changed; the next scheduled renew asks ca\.example again/,
      );
    }
    expect(retryWait({ ...base7, status, retryAfter: String(MAX_RETRY_AFTER_S) })).toBe(MAX_RETRY_AFTER_S);
  }
  expect(retryWait({ ...base7, status: 500 })).toBe(1); // no header: acme-client's default delay times the attempt
  expect(retryWait({ ...base7, status: 500, attempt: 4 })).toBe(0); // acme-client gives up: no wait to bound
  // The run's total: 25 s waited twice is fine, a third 25 s would pass MAX_RETRY_TOTAL_S.
  expect(retryWait({ ...base7, status: 503, retryAfter: '25', waitedS: 25 })).toBe(25);
  expect(() => retryWait({ ...base7, status: 503, retryAfter: '25', waitedS: 50 })).toThrow(
    new RegExp(`would wait 75 s in this run \\(over ${MAX_RETRY_TOTAL_S} s\\)`),
  );
});
