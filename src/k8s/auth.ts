// What the user may do, asked before anything changes: a SelfSubjectRulesReview for one namespace
// (what `kubectl auth can-i --list` asks), and SelfSubjectAccessReviews for many namespaces at once.
import { bounded, groupBy } from '../pool.js';
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
  return (await rulesReview(k)).permissions;
}

/** The rules review of k's namespace; `incomplete` when an authorizer could not list its rules. */
async function rulesReview(k: Kubectl): Promise<{ permissions: Permissions; incomplete: boolean }> {
  const r = await k.send('auth', {
    method: 'POST',
    path: `${AUTHZ}/selfsubjectrulesreviews`,
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: k.namespace },
    },
  });
  const st = (r.json as { status?: { resourceRules?: ResourceRule[]; incomplete?: boolean } }).status;
  const rules = st?.resourceRules;
  return { permissions: rulesPermissions(Array.isArray(rules) ? rules : []), incomplete: st?.incomplete === true };
}

/**
 * Many checks over many namespaces: one rules review per namespace (a fleet's three checks each
 * cost one request, not three). A namespace whose review is incomplete (a webhook authorizer that
 * cannot list its rules) or fails is asked check by check with access reviews instead.
 */
export async function accessByRules(k: Kubectl, checks: AccessCheck[]): Promise<boolean[]> {
  const byNs = groupBy([...checks.keys()], (i) => checks[i]!.namespace);
  const answers: boolean[] = new Array(checks.length);
  const unsure: number[] = [];
  await bounded([...byNs], 16, async ([ns, ix]) => {
    const review = await rulesReview(k.forNamespace(ns)).catch(() => undefined);
    if (!review || review.incomplete) return void unsure.push(...ix);
    for (const i of ix) {
      const c = checks[i]!;
      answers[i] = review.permissions.can(c.verb, c.group ? `${c.resource}.${c.group}` : c.resource, c.name);
    }
  });
  const rest = await accessReviews(
    k,
    unsure.map((i) => checks[i]!),
  );
  unsure.forEach((i, j) => (answers[i] = rest[j]!));
  return answers;
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
