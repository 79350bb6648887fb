// In-memory object store for the sandbox API server: one global, strictly
// increasing resourceVersion (like etcd's revision), bumped on every real
// write and stamped on the object; a bounded event history so a watch can
// resume from a resourceVersion; and live watchers fed on every change.
//
// A stored object is never changed in place: every write stores a new, deeply
// frozen object. So readers that only serialise (list, watch, get for an
// answer) share it through peek() and view(), events carry it as is, and only
// callers that edit what they read pay for a copy (get(), list()).
import { randomUUID } from 'node:crypto';

/** @typedef {{ apiVersion: string, kind: string, metadata: Record<string, any>, [k: string]: any }} KObject */
/** @typedef {{ type: 'ADDED'|'MODIFIED'|'DELETED', resource: string, object: KObject, rv: number }} StoreEvent */
/**
 * One resource's objects by "ns/name", by namespace, and the sorted keys (rebuilt only after an
 * object comes or goes: an update keeps its place).
 * @typedef {{ all: Map<string, KObject>, byNs: Map<string, Map<string, KObject>>, sorted: string[] | null,
 *   sortedNs: Map<string, string[]> }} Index
 */

const HISTORY = 2000;

export class Store {
  constructor() {
    this.rv = 1;
    /** @type {Map<string, Index>} */
    this.index = new Map();
    /** @type {StoreEvent[]} */
    this.history = [];
    /** @type {Set<(e: StoreEvent) => void>} */
    this.listeners = new Set();
  }

  /** @param {string} resource @param {string} ns @param {string} name */
  static key(resource, ns, name) {
    return `${resource}/${ns}/${name}`;
  }

  /** @param {string} resource @returns {Index} */
  #indexOf(resource) {
    let idx = this.index.get(resource);
    if (!idx) {
      idx = { all: new Map(), byNs: new Map(), sorted: null, sortedNs: new Map() };
      this.index.set(resource, idx);
    }
    return idx;
  }

  /**
   * The stored object itself, frozen: for callers that only read or serialise it.
   * @param {string} resource @param {string} ns @param {string} name
   * @returns {Readonly<KObject> | undefined}
   */
  peek(resource, ns, name) {
    return this.index.get(resource)?.byNs.get(ns)?.get(name);
  }

  /**
   * A copy the caller may change.
   * @param {string} resource @param {string} ns @param {string} name
   */
  get(resource, ns, name) {
    const o = this.peek(resource, ns, name);
    return o ? clone(o) : undefined;
  }

  /**
   * The stored (frozen) objects of a resource, sorted by "namespace/name" as plain strings (the
   * order `continue` tokens compare in), for callers that only read or serialise them.
   * @param {string} resource
   * @param {string} [ns] all namespaces when empty
   * @returns {ReadonlyArray<Readonly<KObject>>}
   */
  view(resource, ns) {
    const idx = this.index.get(resource);
    if (!idx) return [];
    if (ns) {
      const names = idx.byNs.get(ns);
      if (!names) return [];
      let sorted = idx.sortedNs.get(ns);
      if (!sorted) idx.sortedNs.set(ns, (sorted = [...names.keys()].sort()));
      return sorted.map((n) => /** @type {KObject} */ (names.get(n)));
    }
    idx.sorted ??= [...idx.all.keys()].sort();
    return idx.sorted.map((k) => /** @type {KObject} */ (idx.all.get(k)));
  }

  /**
   * Copies of the objects of a resource, sorted by namespace then name.
   * @param {string} resource
   * @param {string} [ns] all namespaces when empty
   */
  list(resource, ns) {
    return this.view(resource, ns).map(clone);
  }

  /**
   * Store a new object: sets uid, creationTimestamp and a fresh resourceVersion.
   * @param {string} resource
   * @param {KObject} obj
   */
  create(resource, obj) {
    const o = clone(obj);
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
    const ns = obj.metadata.namespace ?? '';
    const old = this.peek(resource, ns, obj.metadata.name);
    if (!old) throw new Error(`update of missing ${Store.key(resource, ns, obj.metadata.name)}`);
    const next = clone(obj);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (sameObject(old, next)) return clone(old);
    return this.#write(resource, next, 'MODIFIED');
  }

  /** @param {string} resource @param {string} ns @param {string} name */
  delete(resource, ns, name) {
    const idx = this.index.get(resource);
    const old = idx?.byNs.get(ns)?.get(name);
    if (!idx || !old) return undefined;
    idx.all.delete(`${ns}/${name}`);
    const names = /** @type {Map<string, KObject>} */ (idx.byNs.get(ns));
    names.delete(name);
    if (!names.size) idx.byNs.delete(ns);
    idx.sorted = null;
    idx.sortedNs.delete(ns);
    this.rv += 1;
    const gone = deepFreeze({ ...old, metadata: { ...old.metadata, resourceVersion: String(this.rv) } });
    this.#emit({ type: 'DELETED', resource, object: gone, rv: this.rv });
    return clone(gone);
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
    deepFreeze(o);
    const ns = o.metadata.namespace ?? '';
    const name = o.metadata.name;
    const idx = this.#indexOf(resource);
    let names = idx.byNs.get(ns);
    if (!names) idx.byNs.set(ns, (names = new Map()));
    if (!names.has(name)) {
      idx.sorted = null;
      idx.sortedNs.delete(ns);
    }
    names.set(name, o);
    idx.all.set(`${ns}/${name}`, o);
    this.#emit({ type, resource, object: o, rv: this.rv });
    return clone(o);
  }

  /** @param {StoreEvent} e */
  #emit(e) {
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }
}

/**
 * A deep copy of a JSON value (objects arrive from JSON or protobuf decoding). Strings are
 * immutable, so the copy shares them: a secret's base64 data costs nothing to copy.
 * @template T @param {T} v @returns {T}
 */
export function clone(v) {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return /** @type {any} */ (v.map(clone));
  /** @type {Record<string, any>} */
  const out = {};
  for (const k of Object.keys(v)) {
    const c = clone(/** @type {any} */ (v)[k]);
    // A parsed "__proto__" key is data; plain assignment would change the copy's prototype.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
    else out[k] = c;
  }
  return /** @type {T} */ (out);
}

/** @template T @param {T} v @returns {T} */
function deepFreeze(v) {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  for (const k of Object.keys(v)) deepFreeze(/** @type {any} */ (v)[k]);
  return Object.freeze(v);
}

/**
 * Deep equality ignoring key order, undefined members and managedFields (at any depth).
 * @param {any} a
 * @param {any} b
 */
export function sameObject(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return canonical(a) === canonical(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameObject(a[i], b[i])) return false;
    return true;
  }
  const ka = presentKeys(a);
  const kb = presentKeys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !sameObject(a[k], b[k])) return false;
  return true;
}

/** @param {Record<string, any>} o */
function presentKeys(o) {
  return Object.keys(o).filter((k) => o[k] !== undefined && k !== 'managedFields');
}

/**
 * The serialisation sameObject's equality follows (it only falls back to it for scalars).
 * @param {any} v @returns {string}
 */
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
