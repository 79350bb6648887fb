// The fleet's read before any change, in a few requests for every tenant: the secrets in use with
// their data, their previous versions as metadata only, every deployment, and the permissions per
// namespace; then each tenant given its share of it (or refused: a write denied, its secret missing).
import { KubectlError } from '../../../errors.js';
import type { AccessCheck } from '../../../k8s/auth.js';
import type { Deployment } from '../../../k8s/deployments.js';
import type { Kubectl } from '../../../k8s/kubectl.js';
import { LIVE_TLS_SECRETS, unlessForbidden, type SecretObject } from '../../../k8s/secrets.js';
import { retrying } from '../../retry.js';
import { bounded } from '../../../pool.js';
import { secretKey } from '../../fleet.js';
import { LABEL_PREVIOUS_OF, backupRef } from './plan.js';
import type { SecretTenant, StepFail } from './steps.js';

/**
 * The fleet's TLS secrets and deployments, undefined when RBAC forbids listing either across
 * namespaces, and per namespace the writes the user may not make.
 */
export async function readFleet(
  all: Kubectl,
  namespaces: string[],
): Promise<{ secrets: SecretObject[]; deployments: Deployment[]; denied: Map<string, string[]> } | undefined> {
  const checks: AccessCheck[] = namespaces.flatMap((namespace) => [
    { verb: 'create', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: '', resource: 'secrets', namespace },
    { verb: 'update', group: 'apps', resource: 'deployments', namespace },
  ]);
  // The secrets in use with their data; their previous versions (three each) by metadata only.
  const [live, previous, deployments, allowed] = await Promise.all([
    retrying(() => all.listAllIfAllowed<SecretObject>('secrets', LIVE_TLS_SECRETS)),
    retrying(() => all.listAllMetadata({ labelSelector: LABEL_PREVIOUS_OF })).catch(unlessForbidden),
    retrying(() => all.listAllIfAllowed<Deployment>('deployments')),
    retrying(() => all.accessByRules(checks)),
  ]);
  if (!live || !previous || !deployments) return undefined;
  const secrets = [...live, ...previous];
  const denied = new Map<string, string[]>();
  allowed.forEach((ok, i) => {
    if (ok) return;
    const { verb, group, resource, namespace: ns } = checks[i]!;
    denied.set(ns, [...(denied.get(ns) ?? []), `${verb} ${resource}${group ? '.' + group : ''}`]);
  });
  return { secrets, deployments, denied };
}

/** Reads each tenant's secret and previous versions alone, adding them to `byKey` and `secrets`. */
export async function readUnlisted(
  tenants: SecretTenant[],
  parallel: number,
  byKey: Map<string, SecretObject>,
  secrets: SecretObject[],
): Promise<void> {
  await bounded(tenants, parallel, async (x) => {
    const [cur, prev] = await Promise.all([
      retrying(() => x.k.getSecret(x.t.secret)),
      retrying(() => x.k.listSecrets(`${LABEL_PREVIOUS_OF}=${x.t.secret}`)),
    ]);
    if (cur.found) byKey.set(secretKey(x.t.namespace, x.t.secret), cur.object);
    for (const b of prev)
      if (!secrets.some((s) => s.metadata.namespace === b.metadata.namespace && s.metadata.name === b.metadata.name))
        secrets.push(b);
  });
}

/** What the fleet read holds, indexed: each secret by name, previous versions by owner, deployments by namespace. */
interface FleetIndex {
  byKey: Map<string, SecretObject>;
  previous: Map<string, SecretObject[]>;
  deployments: Map<string, Deployment[]>;
}

/** Gives a tenant what the fleet read holds for it, or refuses it (a write denied, its secret missing). */
export function assignTenant(x: SecretTenant, refuse: StepFail, miss: string[] | undefined, index: FleetIndex): void {
  const { namespace, secret } = x.t;
  if (miss) {
    const message = `permission denied: this user cannot ${miss.join(', ')} in namespace "${namespace}"`;
    const hint = 'Nothing was changed in this tenant.';
    refuse(x, new KubectlError(message, { verb: 'auth', args: [], reason: 'Forbidden', hint }));
    return;
  }
  x.current = index.byKey.get(secretKey(namespace, secret));
  if (!x.current) {
    const message = `secret "${secret}" not found in namespace "${namespace}"`;
    refuse(x, new KubectlError(message, { verb: 'get', args: [], reason: 'NotFound' }));
    return;
  }
  x.allDeployments = index.deployments.get(namespace) ?? [];
  x.backups = (index.previous.get(secretKey(namespace, secret)) ?? []).map(backupRef);
}
