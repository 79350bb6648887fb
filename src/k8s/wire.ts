// What travels on the wire to the API server, shared by kubectl.ts and the topic files: query
// strings, List items, and the error line kubectl would print for a failed request.
import { KubectlError } from '../errors.js';
import type { ApiReply } from './rest.js';

/** The namespace value of a Kubectl that pins none (see acrossNamespaces()). */
export const ALL_NAMESPACES = '*';

/** A query string from the parameters that are set. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** A List's items (an API server that answers something else is not one: exit 4). */
export function itemsOf<T>(r: ApiReply): T[] {
  const items = (r.json as { items?: unknown } | undefined)?.items;
  if (Array.isArray(items)) return items as T[];
  throw new KubectlError('the API server answered a list that is not one', {
    verb: 'get',
    args: [],
    reason: 'Invalid',
  });
}

/** The reason a Status without one stands for (k8s.io/apimachinery metav1.StatusReason by code). */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** What kubectl prints for a failed request (kubectl-http-trace.md §3.1): from the Status, or the proxy's text. */
export function fromServer(reply: ApiReply): string {
  const st = reply.json as { kind?: string; reason?: string; message?: string } | undefined;
  if (st?.kind === 'Status' && st.message)
    return `Error from server (${st.reason || REASONS[reply.status] || 'Unknown'}): ${st.message}`;
  const text = reply.text.trim().split('\n')[0]?.slice(0, 300) ?? '';
  if (reply.status === 401) return `error: You must be logged in to the server (Unauthorized)`;
  const failed = 'has prevented the request from succeeding';
  if (reply.status >= 500) return `Error from server (InternalError): an error on the server ("${text}") ${failed}`;
  return `Error from server (${reply.status}): ${text || `HTTP ${reply.status}`}`;
}
