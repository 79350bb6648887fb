// The Kubernetes API as unit tests see it: an injected Api (src/k8s/rest.ts) that records every
// request and answers from a function, so the k8s layer's paths, bodies and error mapping are
// checked without a proxy or a server.
import type { Api, ApiReply, ApiRequest, WatchEvent } from '../../src/k8s/rest.js';

export interface Recorded {
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
}

export type Answer = { status?: number; json?: unknown; text?: string } | Error;

export function fakeApi(answer: (r: Recorded) => Answer = () => ({ json: { items: [] } }), events: WatchEvent[] = []) {
  const calls: Recorded[] = [];
  const api: Api = {
    async request(r: ApiRequest): Promise<ApiReply> {
      const rec: Recorded = { method: r.method, path: r.path, body: r.body, contentType: r.contentType };
      calls.push(rec);
      const a = answer(rec);
      if (a instanceof Error) throw a;
      const json = a.json;
      return { status: a.status ?? 200, json, text: a.text ?? (json === undefined ? '' : JSON.stringify(json)) };
    },
    async watch(w) {
      calls.push({ method: 'WATCH', path: w.path });
      for (const e of events) if (w.onEvent(e)) return true;
      return false;
    },
  };
  return { api, calls };
}

/** A metav1.Status as the API server answers a failure. */
export const status = (code: number, reason: string, message: string, details?: object): Answer => ({
  status: code,
  json: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, details },
});
