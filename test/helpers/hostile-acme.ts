// A hostile ACME CA on loopback, over real HTTPS (its TLS certificate made with openssl in a temp
// dir: pass `tlsCa` as --acme-ca). It speaks just enough RFC 8555 for acme-client (directory,
// newNonce, newAccount, newOrder, authorizations, challenges, finalize, certificate) and RFC 9773
// renewalInfo; JWS signatures are not checked, only the payloads read. `mode` makes one answer
// hostile; every request is recorded. In mode 'ok' the flow is honest up to the challenge, which
// it then refuses (the run ends exit 9 after publishing and cleaning up the ordered names only).
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loopbackTls } from '../../scripts/acme-servers.mjs';

export const RETRY_MODES = ['429', '500', '503'].flatMap((s) =>
  ['seconds', 'suffix', 'date'].map((f) => `retry-${s}-${f}` as const),
);
export type RetryMode = (typeof RETRY_MODES)[number];
export type HostileMode =
  | 'ok'
  | 'token-traversal'
  | 'unordered-name'
  | 'name-newline'
  | 'no-challenges'
  | 'no-token'
  | 'wrong-types'
  | 'http-url'
  | 'bad-directory'
  | 'huge-body'
  | 'endless-body'
  | 'ari-silent'
  | 'redirect'
  | 'not-a-certificate'
  | RetryMode;

export interface Seen {
  method: string;
  path: string;
  /** The JWS payload of a POST, decoded (undefined for POST-as-GET). */
  payload?: unknown;
}

export interface HostileAcme {
  directory: string;
  tlsCa: string;
  port: number;
  mode: HostileMode;
  /** The name a hostile authorization claims (mode unordered-name). */
  readonly otherName: string;
  seen: Seen[];
  reset(mode: HostileMode): void;
  stop(): Promise<void>;
}

const TRAVERSAL = '../../../victim/important.txt';
const OTHER = 'other.xsoar.test';

function makeTls(dir: string): { key: string; cert: string; ca: string } {
  const tls = loopbackTls(dir, 'hostile ACME TLS CA');
  return { key: readFileSync(tls.key, 'utf8'), cert: readFileSync(tls.cert, 'utf8'), ca: tls.ca };
}

function retryAfter(mode: RetryMode): { status: number; header: string } {
  const [, status, form] = mode.split('-');
  const header =
    form === 'seconds' ? '3600' : form === 'suffix' ? '3600s' : new Date(Date.now() + 3600_000).toUTCString();
  return { status: Number(status), header };
}

interface State {
  mode: HostileMode;
  base: string;
  names: string[];
  nonce: number;
  /** Authorizations whose challenge was answered: 'ok' then refuses them, 'not-a-certificate' passes them. */
  answered: Set<number>;
}

function directoryOf(st: State): unknown {
  const b = st.base;
  const dir = {
    newNonce: `${b}/nonce`,
    newAccount: `${b}/account`,
    newOrder: `${b}/order`,
    revokeCert: `${b}/revoke`,
    keyChange: `${b}/key`,
    renewalInfo: `${b}/renewal-info`,
  };
  if (st.mode === 'bad-directory') return { ...dir, newNonce: `http://127.0.0.1:1/nonce`, newOrder: 42 };
  return dir;
}

/** The authorization for the i-th ordered name, bent by the mode. */
function authzOf(st: State, i: number): unknown {
  const name = st.names[i] ?? 'unknown.invalid';
  const wildcard = name.startsWith('*.');
  let value: unknown = name.replace(/^\*\./, '');
  if (st.mode === 'unordered-name' && i === st.names.length - 1) value = OTHER;
  if (st.mode === 'name-newline' && i === st.names.length - 1)
    value = `${String(value)}\nupdate add ${OTHER}. 60 TXT pwned`;
  const token = st.mode === 'token-traversal' ? TRAVERSAL : `tok${i}_${'A'.repeat(30)}`;
  const challenges = ['http-01', 'dns-01'].map((type) => ({
    type,
    url: `${st.base}/chall/${i}/${type}`,
    status: 'pending',
    ...(st.mode === 'no-token' ? {} : { token }),
  }));
  const authz: Record<string, unknown> = {
    identifier: { type: 'dns', value },
    status: 'pending',
    expires: new Date(Date.now() + 86400_000).toISOString(),
    challenges,
    ...(wildcard ? { wildcard: true } : {}),
  };
  if (st.answered.has(i)) {
    const ok = st.mode === 'not-a-certificate';
    authz.status = ok ? 'valid' : 'invalid';
    const error = { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'this test CA validates nothing' };
    authz.challenges = challenges.map((c) => ({ ...c, status: ok ? 'valid' : 'invalid', ...(ok ? {} : { error }) }));
  }
  if (st.mode === 'no-challenges') delete authz.challenges;
  if (st.mode === 'wrong-types') return { identifier: { type: 'dns', value: 42 }, status: true, challenges: 'dns-01' };
  return authz;
}

function orderOf(st: State, status = 'pending'): Record<string, unknown> {
  const b = st.base;
  const authorizations = st.names.map(
    (_, i) => `${st.mode === 'http-url' ? b.replace('https:', 'http:') : b}/authz/${i}`,
  );
  return {
    status,
    expires: new Date(Date.now() + 86400_000).toISOString(),
    identifiers: st.names.map((value) => ({ type: 'dns', value })),
    authorizations,
    finalize: `${b}/finalize/1`,
    ...(status === 'valid' ? { certificate: `${b}/cert/1` } : {}),
  };
}

function payloadOf(body: string): unknown {
  try {
    const jws = JSON.parse(body) as { payload?: string };
    return jws.payload ? JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

/** One answer; `undefined` means the mode took the response over (never answers, streams...). */
function answer(st: State, method: string, p: string, payload: unknown, res: ServerResponse): unknown {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'replay-nonce': `nonce-${++st.nonce}`, ...headers });
    res.end(JSON.stringify(body));
    return true;
  };
  if (p === '/dir') return json(200, directoryOf(st));
  if (p === '/nonce') return json(method === 'HEAD' ? 200 : 204, '');
  if (p.startsWith('/renewal-info/')) {
    if (st.mode === 'ari-silent') return true; // headers never sent, the socket held open
    return json(200, { suggestedWindow: { start: '2000-01-01T00:00:00Z', end: '2000-01-02T00:00:00Z' } });
  }
  if (p === '/account') {
    if (st.mode.startsWith('retry-')) {
      const r = retryAfter(st.mode as RetryMode);
      return json(
        r.status,
        { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down' },
        { 'retry-after': r.header },
      );
    }
    return json(201, { status: 'valid', orders: `${st.base}/orders/1` }, { location: `${st.base}/acct/1` });
  }
  if (p === '/order') {
    st.names = ((payload as { identifiers?: Array<{ value: string }> })?.identifiers ?? []).map((i) => i.value);
    if (st.mode === 'redirect')
      return json(307, {}, { location: `${st.base.replace('127.0.0.1', 'localhost')}/elsewhere/order` });
    if (st.mode === 'huge-body') return hugeBody(st, res);
    if (st.mode === 'endless-body') return endlessBody(st, res);
    return json(201, orderOf(st), { location: `${st.base}/order/1` });
  }
  const authz = /^\/authz\/(\d+)$/.exec(p);
  if (authz) return json(200, authzOf(st, Number(authz[1])));
  const chall = /^\/chall\/(\d+)\/(.+)$/.exec(p);
  if (chall) st.answered.add(Number(chall[1]));
  if (chall)
    return json(200, {
      type: chall[2],
      url: `${st.base}${p}`,
      status: 'processing',
      token: `tok${chall[1]}_${'A'.repeat(30)}`,
    });
  if (p === '/finalize/1') return json(200, orderOf(st, 'valid'));
  if (p === '/order/1') return json(200, orderOf(st, 'valid'));
  if (p === '/cert/1') return json(200, { certificate: 'not a PEM chain', note: 'hostile' });
  return json(404, { type: 'urn:ietf:params:acme:error:malformed', detail: `no ${p}` });
}

/** 10 MB of JSON, announced honestly. */
function hugeBody(st: State, res: ServerResponse): boolean {
  const body = JSON.stringify({ ...orderOf(st), padding: 'x'.repeat(10 * 1000 * 1000) });
  res.writeHead(201, {
    'content-type': 'application/json',
    'replay-nonce': `nonce-${++st.nonce}`,
    location: `${st.base}/order/1`,
  });
  res.end(body);
  return true;
}

/** A body trickled one space at a time, never ended. */
function endlessBody(st: State, res: ServerResponse): boolean {
  res.writeHead(201, {
    'content-type': 'application/json',
    'replay-nonce': `nonce-${++st.nonce}`,
    location: `${st.base}/order/1`,
  });
  res.write('{"status":"pending",');
  const t = setInterval(() => res.write(' '), 100);
  res.on('close', () => clearInterval(t));
  return true;
}

export async function startHostileAcme(mode: HostileMode = 'ok'): Promise<HostileAcme> {
  const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-hostile-acme-'));
  const tls = makeTls(dir);
  const st: State = { mode, base: '', names: [], nonce: 0, answered: new Set() };
  const seen: Seen[] = [];
  const held = new Set<ServerResponse>();
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const p = (req.url ?? '/').split('?')[0]!;
      const payload = req.method === 'POST' ? payloadOf(body) : undefined;
      seen.push({ method: req.method ?? '', path: p, payload });
      if (!p.startsWith('/elsewhere')) {
        held.add(res);
        res.on('close', () => held.delete(res));
        answer(st, req.method ?? 'GET', p, payload, res);
        return;
      }
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  st.base = `https://127.0.0.1:${port}`;
  return {
    directory: `${st.base}/dir`,
    tlsCa: tls.ca,
    port,
    get mode() {
      return st.mode;
    },
    otherName: OTHER,
    seen,
    reset(m) {
      st.mode = m;
      st.names = [];
      st.answered.clear();
      seen.length = 0;
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
