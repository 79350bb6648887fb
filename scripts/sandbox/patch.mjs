// The three PATCH flavours kubectl sends: JSON merge patch (RFC 7386), JSON
// patch (RFC 6902) and Kubernetes strategic merge patch (client-side `apply`,
// `label`, `annotate`, `rollout restart`). Strategic merge follows
// apimachinery's strategicpatch for the list fields of Secrets, Namespaces and
// Deployments: lists with a patchMergeKey merge by that key, other lists are
// replaced; `$patch`, `$setElementOrder`, `$retainKeys` and
// `$deleteFromPrimitiveList` directives are honoured.

/** Merge keys by field name (k8s.io/api patchMergeKey tags). */
const MERGE_KEYS = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  tolerations: 'key',
  topologySpreadConstraints: 'topologyKey',
};
/** Primitive lists with patchStrategy merge. */
const MERGE_PRIMITIVE_LISTS = new Set(['finalizers']);

/** @param {unknown} v */
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
/** @template T @param {T} v @returns {T} */
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/**
 * RFC 7386 JSON merge patch.
 * @param {any} target
 * @param {any} patch
 */
export function applyMergePatch(target, patch) {
  if (!isObject(patch)) return clone(patch);
  const out = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** @param {string} p */
function parsePointer(p) {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new Error(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * RFC 6902 JSON patch. Throws Error with a message suited to a 422/400 Status.
 * @param {any} doc
 * @param {Array<{op: string, path: string, from?: string, value?: any}>} ops
 */
export function applyJsonPatch(doc, ops) {
  if (!Array.isArray(ops)) throw new Error('a JSON patch must be an array of operations');
  let root = clone(doc);
  const locate = (/** @type {string} */ p) => {
    const parts = parsePointer(p);
    const last = parts.pop();
    let parent = root;
    for (const part of parts) {
      parent = Array.isArray(parent) ? parent[Number(part)] : parent?.[part];
      if (parent === undefined || parent === null || typeof parent !== 'object')
        throw new Error(`doc is missing path: ${p}`);
    }
    return { parent, last };
  };
  const get = (/** @type {string} */ p) => {
    let cur = root;
    for (const part of parsePointer(p)) {
      cur = Array.isArray(cur) ? cur[Number(part)] : cur?.[part];
      if (cur === undefined) throw new Error(`doc is missing path: ${p}`);
    }
    return cur;
  };
  const remove = (/** @type {string} */ p) => {
    const { parent, last } = locate(p);
    if (last === undefined) throw new Error('cannot remove the root');
    if (Array.isArray(parent)) {
      const i = Number(last);
      if (!(i >= 0 && i < parent.length)) throw new Error(`doc is missing path: ${p}`);
      return parent.splice(i, 1)[0];
    }
    if (!(last in parent)) throw new Error(`doc is missing path: ${p}`);
    const v = parent[last];
    delete parent[last];
    return v;
  };
  const add = (/** @type {string} */ p, /** @type {any} */ value, replace = false) => {
    const { parent, last } = locate(p);
    if (last === undefined) {
      root = value;
      return;
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw new Error(`index out of range: ${p}`);
      if (replace) {
        if (i >= parent.length) throw new Error(`doc is missing path: ${p}`);
        parent[i] = value;
      } else parent.splice(i, 0, value);
    } else {
      if (replace && !(last in parent)) throw new Error(`doc is missing path: ${p}`);
      parent[last] = value;
    }
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        add(op.path, clone(op.value));
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace':
        add(op.path, clone(op.value), true);
        break;
      case 'move':
        add(op.path, remove(String(op.from)));
        break;
      case 'copy':
        add(op.path, clone(get(String(op.from))));
        break;
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(op.value))
          throw new Error(`testing value ${op.path} failed`);
        break;
      default:
        throw new Error(`unexpected kind of JSON patch operation: ${JSON.stringify(op.op)}`);
    }
  }
  return root;
}

/**
 * Kubernetes strategic merge patch.
 * @param {any} original
 * @param {any} patch
 * @param {string} [field] the field name this value sits under (selects merge keys)
 */
export function applyStrategicMergePatch(original, patch, field) {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = clone(patch);
    delete rest.$patch;
    return stripDirectives(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out = isObject(original) ? clone(original) : {};
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k) && !(k in patch)) delete out[k];
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const name = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[name]) && Array.isArray(v)) out[name] = out[name].filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      out[k] = mergeList(out[k], v, k);
      if (out[k] === undefined) delete out[k];
      continue;
    }
    if (isObject(v)) {
      const merged = applyStrategicMergePatch(out[k], v, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
      continue;
    }
    out[k] = v;
  }
  void field;
  return out;
}

/** @param {any} v */
function stripDirectives(v) {
  if (Array.isArray(v)) return v.filter((x) => !(isObject(x) && x.$patch === 'delete')).map(stripDirectives);
  if (!isObject(v)) return v;
  /** @type {Record<string, any>} */
  const out = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out;
}

/**
 * @param {any} original
 * @param {any[]} patch
 * @param {string} field
 */
function mergeList(original, patch, field) {
  const key = /** @type {Record<string,string>} */ (MERGE_KEYS)[field];
  // `[{"$patch":"replace"}]`-style list replacement directive.
  const replaceDirective = patch.find((x) => isObject(x) && x.$patch === 'replace');
  if (replaceDirective) return stripDirectives(patch.filter((x) => x !== replaceDirective));
  if (MERGE_PRIMITIVE_LISTS.has(field) && patch.every((x) => !isObject(x))) {
    const out = Array.isArray(original) ? [...original] : [];
    for (const x of patch) if (!out.includes(x)) out.push(x);
    return out;
  }
  if (!key || !patch.every(isObject)) return stripDirectives(patch);
  const out = Array.isArray(original) ? clone(original) : [];
  for (const item of patch) {
    const idx = out.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = applyStrategicMergePatch(out[idx], item, field);
    else out.push(stripDirectives(item));
  }
  return out;
}
