// In-memory object store for the sandbox API server: one global, strictly
// increasing resourceVersion (like etcd's revision), bumped on every real
// write and stamped on the object; a bounded event history so a watch can
// resume from a resourceVersion; and live watchers fed on every change.
import { randomUUID } from 'node:crypto';

/** @typedef {{ apiVersion: string, kind: string, metadata: Record<string, any>, [k: string]: any }} KObject */
/** @typedef {{ type: 'ADDED'|'MODIFIED'|'DELETED', resource: string, object: KObject, rv: number }} StoreEvent */

const HISTORY = 2000;

export class Store {
  constructor() {
    this.rv = 1;
    /** @type {Map<string, KObject>} */
    this.objects = new Map();
    /** @type {StoreEvent[]} */
    this.history = [];
    /** @type {Set<(e: StoreEvent) => void>} */
    this.listeners = new Set();
  }

  /** @param {string} resource @param {string} ns @param {string} name */
  static key(resource, ns, name) {
    return `${resource}/${ns}/${name}`;
  }

  /** @param {string} resource @param {string} ns @param {string} name */
  get(resource, ns, name) {
    const o = this.objects.get(Store.key(resource, ns, name));
    return o ? structuredClone(o) : undefined;
  }

  /**
   * Objects of a resource, sorted by namespace then name.
   * @param {string} resource
   * @param {string} [ns] all namespaces when empty
   */
  list(resource, ns) {
    const out = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(resource + '/')) continue;
      if (ns && (o.metadata.namespace ?? '') !== ns) continue;
      out.push(structuredClone(o));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
      ),
    );
  }

  /**
   * Store a new object: sets uid, creationTimestamp and a fresh resourceVersion.
   * @param {string} resource
   * @param {KObject} obj
   */
  create(resource, obj) {
    const o = structuredClone(obj);
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.#write(resource, o, 'ADDED');
  }

  /**
   * Replace a stored object. Returns the stored object unchanged (no new
   * resourceVersion, no event) when nothing but the resourceVersion differs.
   * @param {string} resource
   * @param {KObject} obj
   */
  update(resource, obj) {
    const key = Store.key(resource, obj.metadata.namespace ?? '', obj.metadata.name);
    const old = this.objects.get(key);
    if (!old) throw new Error(`update of missing ${key}`);
    const next = structuredClone(obj);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (sameObject(old, next)) return structuredClone(old);
    return this.#write(resource, next, 'MODIFIED');
  }

  /** @param {string} resource @param {string} ns @param {string} name */
  delete(resource, ns, name) {
    const key = Store.key(resource, ns, name);
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.objects.delete(key);
    this.rv += 1;
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(this.rv);
    this.#emit({ type: 'DELETED', resource, object: gone, rv: this.rv });
    return gone;
  }

  /** The oldest resourceVersion a watch can resume from. */
  oldestWatchableRv() {
    return this.history.length === HISTORY ? this.history[0].rv : 0;
  }

  /**
   * Events after rv, for a watch that resumes.
   * @param {number} rv
   */
  eventsSince(rv) {
    return this.history.filter((e) => e.rv > rv);
  }

  /** @param {(e: StoreEvent) => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @param {string} resource @param {KObject} o @param {'ADDED'|'MODIFIED'} type */
  #write(resource, o, type) {
    this.rv += 1;
    o.metadata.resourceVersion = String(this.rv);
    this.objects.set(Store.key(resource, o.metadata.namespace ?? '', o.metadata.name), o);
    this.#emit({ type, resource, object: structuredClone(o), rv: this.rv });
    return structuredClone(o);
  }

  /** @param {StoreEvent} e */
  #emit(e) {
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }
}

/**
 * Deep equality ignoring key order and managedFields timestamps.
 * @param {any} a
 * @param {any} b
 */
export function sameObject(a, b) {
  return canonical(a) === canonical(b);
}

/** @param {any} v @returns {string} */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined && k !== 'managedFields')
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
