// Just enough protobuf to read what kubectl's typed clients send (trace §1.5): the
// "k8s\0" envelope around runtime.Unknown, and the review objects inside it.

/** Decode one message into { fieldNumber: [values...] } (varints as numbers, bytes as Buffers). */
export function fields(buf) {
  const out = {};
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    let val;
    if (wire === 0) val = varint();
    else if (wire === 2) {
      const len = varint();
      val = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) { val = buf.subarray(i, i + 8); i += 8; }
    else if (wire === 5) { val = buf.subarray(i, i + 4); i += 4; }
    else throw new Error(`unsupported wire type ${wire}`);
    (out[no] ??= []).push(val);
  }
  return out;
}

const str = (f, n) => (f[n]?.[0] ? f[n][0].toString('utf8') : '');

/** k8s\0 + Unknown{ typeMeta{apiVersion, kind}, raw } → { apiVersion, kind, raw } */
export function unwrap(body) {
  if (body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new Error('not a kubernetes protobuf envelope');
  const u = fields(body.subarray(4));
  const tm = fields(u[1]?.[0] ?? Buffer.alloc(0));
  return { apiVersion: str(tm, 1), kind: str(tm, 2), raw: u[2]?.[0] ?? Buffer.alloc(0) };
}

function objectMeta(buf) {
  const f = fields(buf ?? Buffer.alloc(0));
  return { name: str(f, 1), generateName: str(f, 2), namespace: str(f, 3) };
}

/** Decode the objects the fake understands into their JSON form. */
export function decodeObject(body) {
  const { apiVersion, kind, raw } = unwrap(body);
  const f = fields(raw);
  const meta = objectMeta(f[1]?.[0]);
  if (kind === 'SelfSubjectAccessReview') {
    const spec = fields(f[2]?.[0] ?? Buffer.alloc(0));
    const ra = fields(spec[1]?.[0] ?? Buffer.alloc(0));
    return { apiVersion, kind, metadata: meta, spec: { resourceAttributes: { namespace: str(ra, 1), verb: str(ra, 2), group: str(ra, 3), version: str(ra, 4), resource: str(ra, 5), subresource: str(ra, 6), name: str(ra, 7) } } };
  }
  if (kind === 'SelfSubjectRulesReview') {
    const spec = fields(f[2]?.[0] ?? Buffer.alloc(0));
    return { apiVersion, kind, metadata: meta, spec: { namespace: str(spec, 1) } };
  }
  if (kind === 'Secret') {
    // Secret: metadata(1), data(2) map<string,bytes>, type(3), stringData(4), immutable(5)
    const data = {};
    for (const entry of f[2] ?? []) {
      const e = fields(entry);
      data[str(e, 1)] = (e[2]?.[0] ?? Buffer.alloc(0)).toString('base64');
    }
    return { apiVersion, kind, metadata: meta, data, type: str(f, 3) || 'Opaque' };
  }
  if (kind === 'Namespace') return { apiVersion, kind, metadata: meta };
  throw new Error(`the sandbox cannot decode protobuf ${kind}`);
}
