// A small decoder for the Kubernetes protobuf bodies that kubectl's typed
// clientset sends (`kubectl create secret tls|generic`, `create namespace`,
// `create configmap`, `auth can-i`, `auth whoami`): the 4-byte magic "k8s\0",
// then runtime.Unknown {1: typeMeta{1: apiVersion, 2: kind}, 2: raw,
// 3: contentEncoding, 4: contentType}, where raw is the object's own message.
// Field numbers come from k8s.io/api/*/v1/generated.proto and apimachinery's
// meta/v1/generated.proto. The sandbox always answers JSON (kubectl's Accept
// header allows it; a 415 would make kubectl fail instead of falling back).

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/**
 * Split a protobuf message into [fieldNumber, wireType, value] triples.
 * value is a bigint for varints, a Buffer for the other wire types.
 * @param {Buffer} buf
 * @returns {Array<[number, number, bigint | Buffer]>}
 */
export function readFields(buf) {
  /** @type {Array<[number, number, bigint | Buffer]>} */
  const out = [];
  let i = 0;
  const varint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  };
  const take = (/** @type {number} */ n) => {
    if (i + n > buf.length) throw new Error('truncated field');
    const v = buf.subarray(i, i + n);
    i += n;
    return v;
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push([field, wire, varint()]);
    else if (wire === 2) out.push([field, wire, take(Number(varint()))]);
    else if (wire === 1) out.push([field, wire, take(8)]);
    else if (wire === 5) out.push([field, wire, take(4)]);
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

/**
 * A schema maps field numbers to [kind, jsonName, sub?].
 * @typedef {Record<number, [string, string, any?]>} Schema
 */

/**
 * Decode a message into a JSON-shaped object following a schema; unknown fields are skipped.
 * @param {Buffer} buf
 * @param {Schema} schema
 * @returns {Record<string, any>}
 */
function decode(buf, schema) {
  /** @type {Record<string, any>} */
  const obj = {};
  for (const [field, , value] of readFields(buf)) {
    const spec = schema[field];
    if (!spec) continue;
    const [kind, name, sub] = spec;
    const bytes = /** @type {Buffer} */ (value);
    switch (kind) {
      case 'string':
        obj[name] = bytes.toString('utf8');
        break;
      case 'bytes':
        obj[name] = bytes.toString('base64');
        break;
      case 'int':
        obj[name] = Number(value);
        break;
      case 'bool':
        obj[name] = value !== 0n;
        break;
      case 'msg':
        obj[name] = decode(bytes, sub);
        break;
      case 'rstring':
        (obj[name] ??= []).push(bytes.toString('utf8'));
        break;
      case 'map': {
        // map<string, V> is a repeated entry message {1: key, 2: value}.
        let k = '';
        let v = '';
        for (const [f, , val] of readFields(bytes)) {
          const b = /** @type {Buffer} */ (val);
          if (f === 1) k = b.toString('utf8');
          if (f === 2) v = sub === 'bytes' ? b.toString('base64') : b.toString('utf8');
        }
        (obj[name] ??= {})[k] = v;
        break;
      }
    }
  }
  return obj;
}

/** @type {Schema} */
const TIME = { 1: ['int', 'seconds'], 2: ['int', 'nanos'] };
/** @type {Schema} */
const OBJECT_META = {
  1: ['string', 'name'],
  2: ['string', 'generateName'],
  3: ['string', 'namespace'],
  5: ['string', 'uid'],
  6: ['string', 'resourceVersion'],
  7: ['int', 'generation'],
  8: ['msg', 'creationTimestamp', TIME],
  11: ['map', 'labels', 'string'],
  12: ['map', 'annotations', 'string'],
  14: ['rstring', 'finalizers'],
};
/** @type {Schema} */
const RESOURCE_ATTRIBUTES = {
  1: ['string', 'namespace'],
  2: ['string', 'verb'],
  3: ['string', 'group'],
  4: ['string', 'version'],
  5: ['string', 'resource'],
  6: ['string', 'subresource'],
  7: ['string', 'name'],
};
/** @type {Schema} */
const NON_RESOURCE_ATTRIBUTES = { 1: ['string', 'path'], 2: ['string', 'verb'] };

/** @type {Record<string, Schema>} */
const KINDS = {
  Secret: {
    1: ['msg', 'metadata', OBJECT_META],
    2: ['map', 'data', 'bytes'],
    3: ['string', 'type'],
    4: ['map', 'stringData', 'string'],
    5: ['bool', 'immutable'],
  },
  ConfigMap: {
    1: ['msg', 'metadata', OBJECT_META],
    2: ['map', 'data', 'string'],
    3: ['map', 'binaryData', 'bytes'],
    4: ['bool', 'immutable'],
  },
  Namespace: { 1: ['msg', 'metadata', OBJECT_META], 2: ['msg', 'spec', { 1: ['rstring', 'finalizers'] }] },
  SelfSubjectAccessReview: {
    1: ['msg', 'metadata', OBJECT_META],
    2: [
      'msg',
      'spec',
      {
        1: ['msg', 'resourceAttributes', RESOURCE_ATTRIBUTES],
        2: ['msg', 'nonResourceAttributes', NON_RESOURCE_ATTRIBUTES],
      },
    ],
  },
  SelfSubjectRulesReview: { 1: ['msg', 'metadata', OBJECT_META], 2: ['msg', 'spec', { 1: ['string', 'namespace'] }] },
  SelfSubjectReview: { 1: ['msg', 'metadata', OBJECT_META] },
};

/**
 * Decode a "k8s\0"-framed protobuf body into the JSON object it stands for.
 * @param {Buffer} body
 * @returns {Record<string, any>}
 */
export function decodeK8sProtobuf(body) {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new Error('missing the k8s protobuf magic prefix');
  const unknown = decode(body.subarray(4), {
    1: ['msg', 'typeMeta', { 1: ['string', 'apiVersion'], 2: ['string', 'kind'] }],
    2: ['bytes', 'raw'],
  });
  const { apiVersion = '', kind = '' } = unknown.typeMeta ?? {};
  const schema = KINDS[kind];
  if (!schema) throw new Error(`protobuf body of kind ${kind || '(none)'} is not supported by the sandbox`);
  const obj = decode(Buffer.from(unknown.raw ?? '', 'base64'), schema);
  const meta = obj.metadata ?? {};
  // A zero Time is how Go encodes creationTimestamp: null.
  if (meta.creationTimestamp) {
    if (meta.creationTimestamp.seconds)
      meta.creationTimestamp = new Date(meta.creationTimestamp.seconds * 1000).toISOString().replace('.000Z', 'Z');
    else delete meta.creationTimestamp;
  }
  return { apiVersion, kind, ...obj, metadata: meta };
}

// ---- a tiny encoder, used by the sandbox's own tests to build request bodies ----

/** @param {number} n */
function encodeVarint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/**
 * Encode one length-delimited field.
 * @param {number} field
 * @param {Buffer | string} value
 */
export function encodeField(field, value) {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  return Buffer.concat([encodeVarint((field << 3) | 2), encodeVarint(b.length), b]);
}

/**
 * Frame a raw object message as kubectl does.
 * @param {string} apiVersion
 * @param {string} kind
 * @param {Buffer} raw
 */
export function encodeK8sProtobuf(apiVersion, kind, raw) {
  const typeMeta = Buffer.concat([encodeField(1, apiVersion), encodeField(2, kind)]);
  return Buffer.concat([MAGIC, encodeField(1, typeMeta), encodeField(2, raw)]);
}
