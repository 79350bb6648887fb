// Secrets over the API: one secret (get, create, replace, patch, delete), the lists (one namespace,
// every namespace, label and field selectors). Manifests travel in request bodies on the proxy's
// socket only, since they hold key material; every name the cluster answers is checked before it
// can become part of a path (answered, names.ts). Many objects at once: batch.ts.
import { KubectlError } from '../errors.js';
import { DEPLOYMENT, type Deployment } from './deployments.js';
import type { Kubectl, Lookup } from './kubectl.js';
import { ALL_NAMESPACES, fromServer, itemsOf, query } from './wire.js';
import type { ApiReply } from './rest.js';
import { answered, checkK8sName } from './names.js';

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  type?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    uid?: string;
  };
  data?: Record<string, string>;
  immutable?: boolean;
}

/** What the server answered for one item of a batch: its `fields`, or the error line kubectl would print. */
export type EachResult = { ok: true; fields: string[] } | { ok: false; error: string };

/** Server-side filters of a list (the API's labelSelector and fieldSelector). */
export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

const SECRET = { apiVersion: 'v1', kind: 'Secret' };
/** Items of a List carry no apiVersion/kind (kubectl-http-trace.md §3.3): put them back, as kubectl does. */
const asSecrets = (items: SecretObject[]) => items.map((i) => ({ ...SECRET, ...i }));

export async function getSecret(k: Kubectl, name: string): Promise<Lookup<SecretObject>> {
  const r = await k.send('get', { method: 'GET', path: k.path('', 'secrets', name) }, [404]);
  if (r.status === 404 && notFound(r)) return { found: false };
  if (r.status === 404) throw k.error('get', fromServer(r));
  return { found: true, object: answered('secret', asSecrets([r.json as SecretObject]))[0]! };
}

/** A 404 that is the API's "not found" for the object (not a proxy's or a missing namespace's path). */
function notFound(r: ApiReply): boolean {
  const st = r.json as { kind?: string; reason?: string; details?: { kind?: string } } | undefined;
  return st?.kind === 'Status' && st.reason === 'NotFound' && st.details?.kind !== 'namespaces';
}

/** The TLS secrets in use, without the previous versions kept beside them (label xsoar-cert.io/previous-of). */
export const LIVE_TLS_SECRETS: Selectors = {
  fieldSelector: 'type=kubernetes.io/tls',
  labelSelector: '!xsoar-cert.io/previous-of',
};

/** Several named secrets of one namespace; the ones missing are simply not there. */
export async function getSecretsNamed(k: Kubectl, names: readonly string[]): Promise<SecretObject[]> {
  const got = await Promise.all(names.map((n) => getSecret(k, n)));
  return got.flatMap((g) => (g.found ? [g.object] : []));
}

export async function listSecrets(k: Kubectl, labelSelector: string): Promise<SecretObject[]> {
  const r = await k.send('get', { method: 'GET', path: k.path('', 'secrets') + query({ labelSelector }) });
  return answered('secrets', asSecrets(itemsOf<SecretObject>(r)));
}

/** The names of the namespace's kubernetes.io/tls secrets (for "which secret?" help). */
export async function tlsSecretNames(k: Kubectl): Promise<string[]> {
  const r = await k.send('get', {
    method: 'GET',
    path: k.path('', 'secrets') + query({ fieldSelector: 'type=kubernetes.io/tls' }),
  });
  return itemsOf<SecretObject>(r).map((s) => checkK8sName('secret', s.metadata?.name, { cluster: 'the secrets list' }));
}

/** Every secret and deployment of the namespace (two lists, side by side on the socket). */
export async function listSecretsAndDeployments(
  k: Kubectl,
): Promise<{ secrets: SecretObject[]; deployments: Deployment[] }> {
  const [secrets, deployments] = await Promise.all([
    k.send('get', { method: 'GET', path: k.path('', 'secrets') }),
    k.send('get', { method: 'GET', path: k.path('apps', 'deployments') }),
  ]);
  return {
    secrets: answered('secrets', asSecrets(itemsOf<SecretObject>(secrets))),
    deployments: answered(
      'deployments',
      itemsOf<Deployment>(deployments).map((d) => ({ ...DEPLOYMENT, ...d })),
    ),
  };
}

/** POST: the manifest (with key material) in the body, on the socket only. */
export async function createSecret(k: Kubectl, manifest: object): Promise<SecretObject> {
  const ns = namespaceOf(k, manifest);
  const r = await k.send('create', { method: 'POST', path: k.path('', 'secrets', undefined, ns), body: manifest });
  return r.json as SecretObject;
}

/** PUT with metadata.resourceVersion set: a stale version is a 409 (BusyError). */
export async function replaceSecret(k: Kubectl, manifest: object): Promise<SecretObject> {
  const m = manifest as SecretObject;
  const path = k.path('', 'secrets', m.metadata.name, namespaceOf(k, manifest));
  const r = await k.send('replace', { method: 'PUT', path, body: manifest });
  return r.json as SecretObject;
}

/** An RFC 6902 JSON patch of one secret; answers the secret as it is afterwards. */
export async function patchSecretJson(k: Kubectl, name: string, patch: string): Promise<SecretObject> {
  const r = await k.send('patch', {
    method: 'PATCH',
    path: k.path('', 'secrets', name),
    body: JSON.parse(patch) as unknown,
    contentType: 'application/json-patch+json',
  });
  return r.json as SecretObject;
}

export async function deleteSecret(k: Kubectl, name: string): Promise<void> {
  await k.send('delete', { method: 'DELETE', path: k.path('', 'secrets', name) }, [404]);
}

/** Every namespace's objects of one kind in one request (with server-side selectors). */
export async function listAll<T>(k: Kubectl, kind: 'secrets' | 'deployments', sel: Selectors = {}): Promise<T[]> {
  const group = kind === 'deployments' ? 'apps' : '';
  const r = await k.send('get', {
    method: 'GET',
    path: k.path(group, kind, undefined, ALL_NAMESPACES) + query({ ...sel }),
  });
  const stamp = kind === 'secrets' ? SECRET : DEPLOYMENT;
  return answered(
    kind,
    itemsOf<T>(r).map((i) => ({ ...stamp, ...i })),
  );
}

/** The metadata-only list the API server answers for this Accept (Kubernetes 1.15+), with JSON as the fallback. */
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/**
 * Every namespace's secrets matching `sel`, names, labels and annotations only: a fleet's previous
 * versions (three per tenant) need no data to be counted and pruned. A server that answers whole
 * objects is read the same, and their data dropped at once.
 */
export async function listAllMetadata(k: Kubectl, sel: Selectors): Promise<SecretObject[]> {
  const r = await k.send('get', {
    method: 'GET',
    path: k.path('', 'secrets', undefined, ALL_NAMESPACES) + query({ ...sel }),
    accept: METADATA_LIST,
  });
  return answered(
    'secrets',
    itemsOf<SecretObject>(r).map((i) => ({ ...SECRET, metadata: i.metadata })),
  );
}

/** listAll, or undefined when RBAC forbids listing across namespaces (a user with namespaced roles only). */
export async function listAllIfAllowed<T>(
  k: Kubectl,
  kind: 'secrets' | 'deployments',
  sel: Selectors = {},
): Promise<T[] | undefined> {
  return listAll<T>(k, kind, sel).catch(unlessForbidden);
}

/** For a list across namespaces: RBAC's Forbidden means "no such list for this user" (undefined). */
export function unlessForbidden(err: unknown): undefined {
  if (err instanceof KubectlError && err.reason === 'Forbidden') return undefined;
  throw err;
}

/** The namespace a manifest names, else the Kubectl's own. */
function namespaceOf(k: Kubectl, manifest: object): string {
  return (manifest as { metadata?: { namespace?: string } }).metadata?.namespace ?? k.namespace;
}
