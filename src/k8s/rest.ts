// The Kubernetes REST API over the kubectl proxy's unix socket: keep-alive HTTP/1.1, JSON bodies,
// every answer bounded in size and time. Key material travels in request bodies on the socket
// only (never argv, never a file). A watch is read line by line, one event per line
// (kubectl-http-trace.md, `rollout status`).
import { setMaxListeners } from 'node:events';
import http from 'node:http';

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** PATCH: application/json-patch+json or application/strategic-merge-patch+json. */
  contentType?: string;
  /** Another representation than the object's JSON (a metadata-only list). */
  accept?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  maxBytes?: number;
  /**
   * A success's body is not wanted (a batch that needs no field of it): read, bounded, and dropped
   * unparsed. A create or delete answers with the whole secret: 1000 of them were 14 MB of JSON.
   */
  discard?: boolean;
}

export interface ApiReply {
  status: number;
  /** The parsed JSON body, or undefined when it is not JSON (a proxy's plain-text error). */
  json: unknown;
  text: string;
}

export interface WatchEvent {
  type: string;
  object: unknown;
}

export interface WatchRequest {
  path: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called for each event; true ends the watch. */
  onEvent: (e: WatchEvent) => boolean;
}

/** How xsoar-cert reaches the API server: the proxy socket in real runs, a fake in unit tests. */
export interface Api {
  request(r: ApiRequest): Promise<ApiReply>;
  /** Resolves true when onEvent ended it, false when the server closed the stream. */
  watch(w: WatchRequest): Promise<boolean>;
}

/** A failure below HTTP (the socket is gone, the connection dropped, the deadline passed). */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Lists of a large fleet's secrets run to tens of MB; anything past this is not an API server. */
const MAX_BODY = 256 * 1024 * 1024;
const MAX_EVENT = 4 * 1024 * 1024;

export class SocketApi implements Api {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    private readonly socketPath: string,
    private readonly onBroken: (code: string) => void = () => {},
  ) {}

  close(): void {
    this.agent.destroy();
  }

  request(r: ApiRequest): Promise<ApiReply> {
    return new Promise((resolve, reject) => {
      const body = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
      const req = this.open(r.method, r.path, r.timeoutMs, r.signal, reject, body, r.contentType, r.accept);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const max = r.maxBytes ?? MAX_BODY;
        const status = res.statusCode ?? 0;
        const keep = !(r.discard && status >= 200 && status < 300);
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) return req.destroy(new TransportError(`the answer exceeded ${max} bytes`, 'E2BIG'));
          if (keep) chunks.push(c);
        });
        res.on('end', () => {
          if (!keep) return resolve({ status, json: undefined, text: '' });
          const text = Buffer.concat(chunks).toString('utf8');
          chunks.length = 0;
          const json = parseJson(text, res.headers['content-type']);
          // A fleet's lists run to tens of MB: once parsed, the text is kept only for error messages.
          resolve({ status, json, text: json !== undefined && status < 300 ? '' : text });
        });
        res.on('error', () => {}); // the request's own error handler reports it
      });
      req.end(body);
    });
  }

  watch(w: WatchRequest): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const req = this.open('GET', w.path, w.timeoutMs, w.signal, reject);
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new TransportError(`the watch answered HTTP ${res.statusCode}`, 'EWATCH'));
        }
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          if (buf.length > MAX_EVENT) return req.destroy(new TransportError('a watch event was too large', 'E2BIG'));
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            const e = parseJson(line, 'application/json') as WatchEvent | undefined;
            let stop: boolean;
            try {
              stop = !!e && w.onEvent(e);
            } catch (err) {
              req.destroy();
              return reject(err as Error);
            }
            if (stop) {
              req.destroy();
              return resolve(true);
            }
          }
        });
        res.on('end', () => resolve(false));
        res.on('error', () => {});
      });
      req.end();
    });
  }

  /** One request on the socket, with the deadline, the abort and the error mapping every call shares. */
  private open(
    method: string,
    path: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    reject: (e: Error) => void,
    body?: Buffer,
    contentType = 'application/json',
    accept = 'application/json',
  ): http.ClientRequest {
    const headers: Record<string, string | number> = { Host: 'localhost', Accept: accept };
    if (body) Object.assign(headers, { 'Content-Type': contentType, 'Content-Length': body.length });
    const req = http.request({ socketPath: this.socketPath, path, method, headers, agent: this.agent });
    const timer = setTimeout(
      () => req.destroy(new TransportError(`timed out after ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT')),
      timeoutMs,
    );
    const onAbort = () => req.destroy(new TransportError('interrupted', 'EABORTED'));
    // One run's signal is shared by every request in flight (a fleet has dozens): not a leak.
    if (signal) setMaxListeners(0, signal);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    let answer: http.IncomingMessage | undefined;
    req.on('response', (res) => (answer = res));
    req.on('close', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // The proxy died after the answer began (a watch's stream, a long list): no 'error' may come, and
      // a promise left pending would let the run end as if there were nothing left to do. A call that
      // was answered has settled already (and is spared building an Error: 600 of them per 100 tenants).
      if (!answer?.complete) reject(new TransportError('the connection closed before the answer ended', 'ECONNRESET'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err instanceof TransportError ? err.code : (err.code ?? 'EIO');
      if (code === 'ENOENT' || code === 'ECONNREFUSED') this.onBroken(code);
      reject(err instanceof TransportError ? err : new TransportError(err.message, code));
    });
    return req;
  }
}

function parseJson(text: string, type: string | undefined): unknown {
  if (!/json/.test(type ?? '')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
