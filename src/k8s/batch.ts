// Many objects at once (a fleet's backups, replaces, restarts, lock releases): one request each on
// the proxy's keep-alive connections, a few in flight, every item answered on its own. What each
// item's answer holds is `fields` of the object the server returned (`{.metadata.generation}`), or
// the error line kubectl would print for it, so ops/retry.ts judges both transports alike.
import { bounded } from '../pool.js';
import type { Kubectl } from './kubectl.js';
import { fromServer, query } from './wire.js';
import { TransportError } from './rest.js';
import { redact } from '../redact.js';

export type EachVerb = 'create' | 'replace' | 'delete' | 'patch';
/** A patch for every item: a JSON patch's text, or a body with its content type (and field manager). */
export type EachPatch = string | { body: object; contentType: string; fieldManager?: string };
export type EachResult = { ok: true; fields: string[] } | { ok: false; error: string };
type Item = { kind?: string; metadata: { name: string; namespace?: string } };

/** How many requests of a batch are in flight at once (as many keep-alive connections to the proxy). */
const IN_FLIGHT = 16;

/**
 * Send `verb` for every item (each naming its namespace); `patch`: the patch applied to every item.
 * Answers in input order; a failure of one item does not stop the others.
 */
export async function each(
  k: Kubectl,
  verb: EachVerb,
  items: readonly Item[],
  fields: string[] = [],
  patch?: EachPatch,
): Promise<EachResult[]> {
  const out: EachResult[] = new Array(items.length);
  const p =
    typeof patch === 'string' || patch === undefined
      ? { body: JSON.parse(patch ?? '[]') as object, contentType: 'application/json-patch+json' }
      : patch;
  await bounded(items, IN_FLIGHT, async (it, i) => {
    out[i] = await one(k, verb, it, fields, p);
  });
  return out;
}

async function one(
  k: Kubectl,
  verb: EachVerb,
  it: Item,
  fields: string[],
  patch: Exclude<EachPatch, string>,
): Promise<EachResult> {
  const group = it.kind === 'Deployment' ? 'apps' : '';
  const resource = it.kind === 'Deployment' ? 'deployments' : 'secrets';
  const ns = it.metadata.namespace ?? k.namespace;
  const named = k.path(group, resource, it.metadata.name, ns);
  const manager = patch.fieldManager ? query({ fieldManager: patch.fieldManager }) : '';
  const req =
    verb === 'create'
      ? { method: 'POST' as const, path: k.path(group, resource, undefined, ns), body: it }
      : verb === 'replace'
        ? { method: 'PUT' as const, path: named, body: it }
        : verb === 'delete'
          ? { method: 'DELETE' as const, path: named }
          : { method: 'PATCH' as const, path: named + manager, body: patch.body, contentType: patch.contentType };
  try {
    const r = await k.api.request({ ...req, timeoutMs: k.timeoutMs, signal: k.signal, discard: !fields.length });
    if (r.status >= 200 && r.status < 300) return { ok: true, fields: fields.map((f) => pick(r.json, f)) };
    if (verb === 'delete' && r.status === 404) return { ok: true, fields: [] };
    return { ok: false, error: redact(fromServer(r)) };
  } catch (err) {
    const code = err instanceof TransportError ? err.code : 'EIO';
    if (code === 'EABORTED') return { ok: false, error: 'error: interrupted' };
    // Worded so ops/retry.ts sees a dropped connection or a timeout (transient), like kubectl's own lines.
    return { ok: false, error: `error: ${code === 'ETIMEDOUT' ? 'timed out' : 'connection reset'} (${code})` };
  }
}

/** A `{.a.b}` path of the answered object, as kubectl's jsonpath prints it (objects as JSON). */
export function pick(obj: unknown, field: string): string {
  let v: unknown = obj;
  for (const key of field.replace(/^\{\.|\}$/g, '').split('.')) v = (v as Record<string, unknown> | undefined)?.[key];
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}
