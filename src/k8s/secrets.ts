// Secrets through kubectl: one secret (get, create, replace, patch, delete), the lists (one
// namespace, every namespace, a label selector), and many objects in one process (each: a List on
// stdin). Manifests travel on stdin only, since they hold key material (STYLE habit 9); every name
// the cluster answers is checked before it can become an argument (answered, names.ts).
import { KubectlError } from '../errors.js';
import { redact } from '../redact.js';
import type { Deployment } from './deployments.js';
import type { Kubectl, Lookup } from './kubectl.js';
import { answered, checkK8sName, positional } from './names.js';

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

/** What kubectl answered for one item of a List: its `jsonpath` fields, or the error line it printed. */
export type EachResult = { ok: true; fields: string[] } | { ok: false; error: string };

export async function getSecret(k: Kubectl, name: string): Promise<Lookup<SecretObject>> {
  const r = await k.call('get', ['secret', '-o', 'json', '--ignore-not-found', ...positional('secret', [name])]);
  if (!r.stdout.trim()) return { found: false };
  return { found: true, object: answered('secret', [JSON.parse(r.stdout) as SecretObject])[0]! };
}

/**
 * The list arguments for the TLS secrets in use, without the previous versions kept beside them
 * (label xsoar-cert.io/previous-of): a fleet keeps up to three each, and a daily check of what is
 * installed need not read them.
 */
export const LIVE_TLS_SECRETS = ['--field-selector', 'type=kubernetes.io/tls', '-l', '!xsoar-cert.io/previous-of'];

/** Several named secrets of one namespace in one kubectl process; the ones missing are simply not there. */
export async function getSecretsNamed(k: Kubectl, names: readonly string[]): Promise<SecretObject[]> {
  const r = await k.call('get', ['secret', '-o', 'json', '--ignore-not-found', ...positional('secret', names)]);
  if (!r.stdout.trim()) return [];
  const doc = JSON.parse(r.stdout) as SecretObject | { items: SecretObject[] };
  return answered('secret', 'items' in doc ? doc.items : [doc]);
}

export async function listSecrets(k: Kubectl, labelSelector: string): Promise<SecretObject[]> {
  const r = await k.call('get', ['secrets', '-l', labelSelector, '-o', 'json']);
  return answered('secrets', (JSON.parse(r.stdout) as { items: SecretObject[] }).items);
}

/** The names of the namespace's kubernetes.io/tls secrets (for "which secret?" help). */
export async function tlsSecretNames(k: Kubectl): Promise<string[]> {
  const r = await k.call('get', [
    'secrets',
    '--field-selector',
    'type=kubernetes.io/tls',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}',
  ]);
  const names = r.stdout.split('\n').filter(Boolean);
  return names.map((n) => checkK8sName('secret', n, { cluster: 'kubectl get secrets' }));
}

/** Every secret and deployment of the namespace in one kubectl process (`get secrets,deployments`). */
export async function listSecretsAndDeployments(
  k: Kubectl,
): Promise<{ secrets: SecretObject[]; deployments: Deployment[] }> {
  const r = await k.call('get', ['secrets,deployments', '-o', 'json']);
  type Item = (SecretObject | Deployment) & { kind?: string };
  const items = answered('secrets,deployments', (JSON.parse(r.stdout) as { items: Item[] }).items);
  return {
    secrets: items.filter((i) => i.kind === 'Secret') as SecretObject[],
    deployments: items.filter((i) => i.kind === 'Deployment') as Deployment[],
  };
}

/** `kubectl create -f -`: the manifest (with key material) on stdin. */
export async function createSecret(k: Kubectl, manifest: object): Promise<SecretObject> {
  const r = await k.call('create', ['-f', '-', '-o', 'json', '--validate=false'], { input: JSON.stringify(manifest) });
  return JSON.parse(r.stdout) as SecretObject;
}

/** `kubectl replace -f -` with metadata.resourceVersion set: a stale version is a 409 (BusyError). */
export async function replaceSecret(k: Kubectl, manifest: object): Promise<SecretObject> {
  const r = await k.call('replace', ['-f', '-', '-o', 'json', '--validate=false'], { input: JSON.stringify(manifest) });
  return JSON.parse(r.stdout) as SecretObject;
}

/** An RFC 6902 JSON patch of one secret; answers the secret as it is afterwards. */
export async function patchSecretJson(k: Kubectl, name: string, patch: string): Promise<SecretObject> {
  const r = await k.call('patch', [
    'secret',
    '--type=json',
    '-p',
    patch,
    '-o',
    'json',
    ...positional('secret', [name]),
  ]);
  return JSON.parse(r.stdout) as SecretObject;
}

export async function deleteSecret(k: Kubectl, name: string): Promise<void> {
  await k.call('delete', ['secret', '--ignore-not-found', '--wait=false', ...positional('secret', [name])]);
}

/** `kubectl get KIND -A -o json` (with extra selectors): every namespace in one call. */
export async function listAll<T>(k: Kubectl, kind: string, extra: string[] = []): Promise<T[]> {
  const r = await k.call('get', [kind, '--all-namespaces', ...extra, '-o', 'json']);
  return answered(kind, (JSON.parse(r.stdout) as { items: T[] }).items);
}

/** listAll, or undefined when RBAC forbids listing across namespaces (a user with namespaced roles only). */
export async function listAllIfAllowed<T>(k: Kubectl, kind: string, extra: string[] = []): Promise<T[] | undefined> {
  try {
    return await listAll<T>(k, kind, extra);
  } catch (err) {
    if (err instanceof KubectlError && err.reason === 'Forbidden') return undefined;
    throw err;
  }
}

/**
 * One kubectl process for many objects (a List on stdin, each naming its namespace): kubectl
 * sends them one by one and goes on after a failure. Returns, per input item, what the server
 * answered: its `jsonpath` fields, or the error line kubectl printed for it.
 */
export async function each(
  k: Kubectl,
  verb: 'create' | 'replace' | 'delete' | 'patch',
  items: ReadonlyArray<{ metadata: { name: string; namespace?: string } }>,
  fields: string[] = [],
  /** patch: the JSON patch applied to every item (no key material: it is argv). */ jsonPatch?: string,
): Promise<EachResult[]> {
  if (items.length === 0) return [];
  const r = await k.call(verb, eachArgs(verb, fields, jsonPatch), {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    allowFail: true,
    timeoutMs: k.timeoutMs + items.length * 1000,
  });
  if (r.exitCode !== 0 && !r.stdout.trim() && !/Error from server|error when/.test(r.stderr))
    throw k.error(verb, [verb], r);
  const done = new Map<string, string[]>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [ns, name, ...rest] = line.split('\t');
    done.set(`${ns}/${name}`, rest);
  }
  const errors = redact(r.stderr)
    .split('\n')
    .filter((l) => /^Error from server|^error/.test(l));
  let e = 0;
  return items.map((it) => {
    if (verb === 'delete') return { ok: true, fields: [] };
    const f = done.get(`${it.metadata.namespace}/${it.metadata.name}`);
    if (f) return { ok: true, fields: f };
    // kubectl reports failures in input order, one line each.
    return { ok: false, error: errors[e++] ?? `kubectl ${verb} did not ${verb} it` };
  });
}

/** each()'s arguments: every item answers its namespace, name and `fields` on one line (delete: its name). */
function eachArgs(verb: 'create' | 'replace' | 'delete' | 'patch', fields: string[], jsonPatch?: string): string[] {
  const path = ['{.metadata.namespace}', '{.metadata.name}', ...fields].join('{"\\t"}') + '{"\\n"}';
  if (verb === 'delete') return ['-f', '-', '--ignore-not-found', '--wait=false', '-o', 'name'];
  if (verb === 'patch') return ['-f', '-', '--type=json', '-p', jsonPatch ?? '[]', '-o', `jsonpath=${path}`];
  return ['-f', '-', '--validate=false', '-o', `jsonpath=${path}`];
}
