// Static shapes the sandbox API server answers with: the resource registry,
// discovery documents (aggregated v2 for kubectl >= 1.26, legacy
// APIVersions/APIGroupList/APIResourceList for older clients such as Debian's
// 1.20), OpenAPI v3 documents good enough for kubectl's fieldValidation probe,
// metav1.Status errors and server-side Tables. See
// ../../../shared/kubectl-http-trace.md for what kubectl expects.
import { createHash } from 'node:crypto';

const RW = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

/**
 * @typedef {{ group: string, version: string, resource: string, kind: string, listKind: string, singular: string,
 *   namespaced: boolean, verbs: string[], shortNames?: string[], categories?: string[],
 *   subresources?: Array<{ subresource: string, kind: string, group?: string, version?: string, verbs: string[] }> }} ResourceInfo
 */

/** @type {ResourceInfo[]} */
export const RESOURCES = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    singular: 'namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    kind: 'Secret',
    listKind: 'SecretList',
    singular: 'secret',
    namespaced: true,
    verbs: RW,
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    listKind: 'PodList',
    singular: 'pod',
    namespaced: true,
    verbs: ['get', 'list', 'watch'],
    shortNames: ['po'],
    categories: ['all'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    listKind: 'DeploymentList',
    singular: 'deployment',
    namespaced: true,
    verbs: RW,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [
      { subresource: 'status', kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
      { subresource: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] },
    ],
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    listKind: '',
    singular: 'selfsubjectaccessreview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectrulesreviews',
    kind: 'SelfSubjectRulesReview',
    listKind: '',
    singular: 'selfsubjectrulesreview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resource: 'selfsubjectreviews',
    kind: 'SelfSubjectReview',
    listKind: '',
    singular: 'selfsubjectreview',
    namespaced: false,
    verbs: ['create'],
  },
];

export const GROUPS = ['apps', 'authorization.k8s.io', 'authentication.k8s.io'];

/** @param {string} group @param {string} version @param {string} resource */
export function findResource(group, version, resource) {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** @param {string} s */
const shortHash = (s) => createHash('sha256').update(s).digest('base64').slice(0, 11);

// ---------- discovery ----------

/** @param {ResourceInfo} r */
function aggregatedResource(r) {
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    ...(r.subresources
      ? {
          subresources: r.subresources.map((s) => ({
            subresource: s.subresource,
            responseKind: { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}

/** The aggregated (apidiscovery.k8s.io/v2) document for /api (core) or /apis. @param {boolean} core */
export function aggregatedDiscovery(core) {
  const groups = core ? [''] : GROUPS;
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map((g) => ({
      metadata: g ? { name: g } : {},
      versions: [
        {
          version: 'v1',
          resources: RESOURCES.filter((r) => r.group === g).map(aggregatedResource),
          freshness: 'Current',
        },
      ],
    })),
  };
}

/** Legacy /api. @param {string} address */
export function apiVersions(address) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
  };
}

/** Legacy /apis. */
export function apiGroupList() {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: GROUPS.map((name) => ({
      name,
      versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
      preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
    })),
  };
}

/** Legacy /api/v1 or /apis/G/v1. @param {string} group */
export function apiResourceList(group) {
  const resources = [];
  for (const r of RESOURCES.filter((x) => x.group === group)) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
      storageVersionHash: shortHash(`${group}/${r.resource}`),
    });
    for (const s of r.subresources ?? []) {
      resources.push({
        name: `${r.resource}/${s.subresource}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/v1` : 'v1', resources };
}

// ---------- OpenAPI v3 ----------

const PARAM = (/** @type {string} */ name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

/**
 * An OpenAPI 3 document for one group/version. It lists every path with the
 * x-kubernetes-group-version-kind extension and the fieldValidation query
 * parameter, which is what kubectl's QueryParamVerifierV3 looks for before it
 * leaves validation to the server. PATCH operations deliberately carry no
 * requestBody content: kubectl then computes strategic merge patches from its
 * compiled-in types instead of from schemas this sandbox does not publish.
 * @param {string} group
 */
export function openapiV3Doc(group) {
  /** @type {Record<string, any>} */
  const paths = {};
  const prefix = group ? `/apis/${group}/v1` : '/api/v1';
  for (const r of RESOURCES.filter((x) => x.group === group)) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const op = (/** @type {string} */ action, /** @type {string[]} */ params) => ({
      operationId: `${action}${r.kind}`,
      parameters: params.map(PARAM),
      responses: { 200: { description: 'OK' } },
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    });
    const writeParams = ['dryRun', 'fieldManager', 'fieldValidation'];
    const base = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.resource}` : `${prefix}/${r.resource}`;
    paths[base] = {
      get: op('list', ['labelSelector', 'fieldSelector', 'limit', 'continue', 'watch']),
      ...(r.verbs.includes('create') ? { post: op('post', writeParams) } : {}),
    };
    if (r.verbs.includes('get')) {
      paths[`${base}/{name}`] = {
        get: op('get', []),
        ...(r.verbs.includes('update')
          ? {
              put: op('put', writeParams),
              patch: op('patch', [...writeParams, 'force']),
              delete: op('delete', ['dryRun', 'propagationPolicy']),
            }
          : {}),
      };
    }
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.4-sandbox' },
    paths,
    components: { schemas: {} },
  };
}

/** The /openapi/v3 index, with content hashes as the real server publishes. */
export function openapiV3Index() {
  /** @type {Record<string, any>} */
  const paths = {};
  for (const g of ['', ...GROUPS]) {
    const key = g ? `apis/${g}/v1` : 'api/v1';
    const hash = createHash('sha512')
      .update(JSON.stringify(openapiV3Doc(g)))
      .digest('hex')
      .slice(0, 64)
      .toUpperCase();
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
  }
  return { paths };
}

// ---------- Status ----------

/**
 * A metav1.Status body.
 * @param {number} code
 * @param {string} reason
 * @param {string} message
 * @param {Record<string, any>} [details]
 */
export function status(code, reason, message, details) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** "secrets" or "deployments.apps", as apiserver messages print a resource. @param {ResourceInfo} r */
export const qualifiedResource = (r) => (r.group ? `${r.resource}.${r.group}` : r.resource);

/** @param {ResourceInfo} r @param {string} name */
export const details = (r, name) => ({ name, ...(r.group ? { group: r.group } : {}), kind: r.resource });

// ---------- Tables ----------

/**
 * Like Go's k8s.io/apimachinery/pkg/util/duration.HumanDuration.
 * @param {number} ms
 */
export function humanDuration(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${days / 365}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

/** @param {any} o */
const age = (o) => humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp));
const col = (/** @type {string} */ name, /** @type {string} */ type, priority = 0, format = '') => ({
  name,
  type,
  format,
  description: name,
  priority,
});

/** @type {Record<string, { columns: any[], cells: (o: any) => any[] }>} */
const TABLES = {
  secrets: {
    columns: [col('Name', 'string', 0, 'name'), col('Type', 'string'), col('Data', 'string'), col('Age', 'string')],
    cells: (o) => [o.metadata.name, o.type, Object.keys(o.data ?? {}).length, age(o)],
  },
  namespaces: {
    columns: [col('Name', 'string', 0, 'name'), col('Status', 'string'), col('Age', 'string')],
    cells: (o) => [o.metadata.name, o.status?.phase ?? 'Active', age(o)],
  },
  deployments: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready', 'string'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Age', 'string'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells: (o) => {
      const st = o.status ?? {};
      const containers = o.spec?.template?.spec?.containers ?? [];
      const sel = Object.entries(o.spec?.selector?.matchLabels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return [
        o.metadata.name,
        `${st.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`,
        st.updatedReplicas ?? 0,
        st.availableReplicas ?? 0,
        age(o),
        containers.map((c) => c.name).join(','),
        containers.map((c) => c.image).join(','),
        sel,
      ];
    },
  },
  pods: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready', 'string'),
      col('Status', 'string'),
      col('Restarts', 'string'),
      col('Age', 'string'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
    ],
    cells: (o) => {
      const ready = (o.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      return [
        o.metadata.name,
        `${ready ? 1 : 0}/1`,
        o.status?.phase ?? 'Pending',
        '0',
        age(o),
        o.status?.podIP ?? '<none>',
        o.spec?.nodeName ?? 'sandbox',
      ];
    },
  },
};

/**
 * A meta.k8s.io/v1 Table for a list (or one object).
 * @param {string} resource
 * @param {any[]} items objects with metadata
 * @param {string} rv
 * @param {string} [cont]
 */
export function table(resource, items, rv, cont) {
  const t = TABLES[resource] ?? {
    columns: [col('Name', 'string', 0, 'name'), col('Age', 'string')],
    cells: (/** @type {any} */ o) => [o.metadata.name, age(o)],
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) },
    columnDefinitions: t.columns,
    rows: items.map((o) => ({
      cells: t.cells(o),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

// ---------- OpenAPI v2 (protobuf) ----------

/**
 * A minimal gnostic openapi_v2.Document (protobuf; field numbers from
 * google/gnostic openapiv2/OpenAPIv2.proto): every PATCH path with its
 * x-kubernetes-group-version-kind extension and the fieldValidation query
 * parameter, and no definitions. kubectl <= 1.28 probes it for fieldValidation
 * support before a write; kubectl's client-side apply reads it for patch
 * metadata and, finding no definitions, falls back to its compiled-in types;
 * old clients' schema validation skips kinds without a schema.
 * @param {(field: number, value: Buffer | string) => Buffer} field encodeField from protobuf.mjs
 */
export function openapiV2Proto(field) {
  const cat = (/** @type {Buffer[]} */ ...b) => Buffer.concat(b);
  const queryParam = (/** @type {string} */ name) =>
    // ParametersItem{parameter} → Parameter{non_body_parameter} → NonBodyParameter{query_parameter_sub_schema}
    field(8, field(1, field(2, field(3, cat(field(2, 'query'), field(4, name), field(6, 'string'))))));
  const paths = [];
  for (const r of RESOURCES.filter((x) => x.verbs.includes('patch'))) {
    const gvkYaml = `group: "${r.group}"\nkind: ${r.kind}\nversion: ${r.version}\n`;
    const op = cat(
      field(
        5,
        `patch${r.group ? r.group.split('.')[0][0].toUpperCase() + r.group.split('.')[0].slice(1) : 'Core'}V1Namespaced${r.kind}`,
      ),
      ...['dryRun', 'fieldManager', 'fieldValidation', 'force'].map(queryParam),
      // NamedAny{name, value: Any{yaml}}
      field(13, cat(field(1, 'x-kubernetes-action'), field(2, field(2, 'patch\n')))),
      field(13, cat(field(1, 'x-kubernetes-group-version-kind'), field(2, field(2, gvkYaml)))),
    );
    const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const p = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.resource}/{name}` : `${prefix}/${r.resource}/{name}`;
    paths.push(field(2, cat(field(1, p), field(2, field(8, op)))));
  }
  return cat(
    field(1, '2.0'),
    field(2, cat(field(1, 'Kubernetes'), field(2, 'v1.32.4-sandbox'))),
    field(8, cat(...paths)),
  );
}
