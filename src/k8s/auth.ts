// What the user may do, asked before anything changes: a SelfSubjectRulesReview for one namespace
// (what `kubectl auth can-i --list` asks), and SelfSubjectAccessReviews for many namespaces at once.
import { bounded } from '../pool.js';
import type { Kubectl } from './kubectl.js';

const AUTHZ = '/apis/authorization.k8s.io/v1';

interface ResourceRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface Permissions {
  can(verb: string, resource: string, name?: string): boolean;
}

export interface AccessCheck {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name?: string;
}

/** One SelfSubjectRulesReview: every permission the install needs, in one request. */
export async function permissions(k: Kubectl): Promise<Permissions> {
  const r = await k.send('auth', {
    method: 'POST',
    path: `${AUTHZ}/selfsubjectrulesreviews`,
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: k.namespace },
    },
  });
  const rules = (r.json as { status?: { resourceRules?: ResourceRule[] } }).status?.resourceRules;
  return rulesPermissions(Array.isArray(rules) ? rules : []);
}

/** `resource` is "secrets" or "deployments.apps" (resource.group, as kubectl writes it). */
export function rulesPermissions(rules: ResourceRule[]): Permissions {
  const has = (list: string[] | undefined, x: string) => (list ?? []).some((v) => v === '*' || v === x);
  return {
    can: (verb, resource, name) => {
      const [res, group = ''] = resource.split(/\.(.*)/s);
      return rules.some(
        (r) =>
          has(r.verbs, verb) &&
          has(r.apiGroups, group) &&
          has(r.resources, res!) &&
          (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name))),
      );
    },
  };
}

/**
 * SelfSubjectAccessReviews for many checks, side by side (what `auth can-i` asks, one namespace at
 * a time). When the API cannot answer, every check counts as allowed: the writes
 * themselves are refused cleanly, before anything in that tenant changes.
 */
export async function accessReviews(k: Kubectl, checks: AccessCheck[]): Promise<boolean[]> {
  // Not asked once across all namespaces instead: an authorizer other than RBAC (a webhook) may deny
  // in one namespace what it allows cluster-wide, and the sandbox's policies do just that.
  return (await reviews(k, checks)) ?? checks.map(() => true);
}

/** One SelfSubjectAccessReview per check, a few at a time; undefined when the API cannot answer one. */
async function reviews(k: Kubectl, checks: AccessCheck[]): Promise<boolean[] | undefined> {
  const items = checks.map((c) => ({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: {
      resourceAttributes: {
        verb: c.verb,
        group: c.group,
        resource: c.resource,
        namespace: c.namespace,
        ...(c.name ? { name: c.name } : {}),
      },
    },
  }));
  const answers: (boolean | undefined)[] = [];
  await bounded(items, 16, async (body, i) => {
    answers[i] = await k
      .send('auth', { method: 'POST', path: `${AUTHZ}/selfsubjectaccessreviews`, body })
      .then((r) => (r.json as { status?: { allowed?: boolean } }).status?.allowed === true)
      .catch(() => undefined);
  });
  return answers.some((a) => a === undefined) ? undefined : (answers as boolean[]);
}
