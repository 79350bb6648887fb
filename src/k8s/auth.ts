// What the user may do, asked before anything changes: `kubectl auth can-i --list` for one
// namespace (parsed from its table), and SelfSubjectAccessReviews for many namespaces at once.
import type { Kubectl } from './kubectl.js';

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

/** `kubectl auth can-i --list`: one call for every permission the install needs. */
export async function permissions(k: Kubectl): Promise<Permissions> {
  const r = await k.call('auth', ['can-i', '--list']);
  return parseCanIList(r.stdout);
}

/** Parse the table of `kubectl auth can-i --list` (no -o json exists for it). */
export function parseCanIList(text: string): Permissions {
  const rules: { resource: string; names: string[]; verbs: string[] }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$/.exec(line);
    if (!m) continue;
    rules.push({
      resource: m[1]!,
      names: m[3]!.split(/\s+/).filter(Boolean),
      verbs: m[4]!.split(/\s+/).filter(Boolean),
    });
  }
  const resMatch = (rule: string, want: string) => {
    if (rule === '*' || rule === '*.*') return true;
    const [r, g = ''] = rule.split(/\.(.*)/s);
    const [wr, wg = ''] = want.split(/\.(.*)/s);
    return (r === '*' || r === wr) && (g === '*' || g === wg);
  };
  return {
    can: (verb, resource, name) =>
      rules.some(
        (r) =>
          resMatch(r.resource, resource) &&
          (r.verbs.includes('*') || r.verbs.includes(verb)) &&
          (r.names.length === 0 || (name !== undefined && r.names.includes(name))),
      ),
  };
}

/**
 * SelfSubjectAccessReviews for many checks in one kubectl process (what `auth can-i` asks, one
 * namespace at a time). When the API cannot answer, every check counts as allowed: the writes
 * themselves are refused cleanly, before anything in that tenant changes.
 */
export async function accessReviews(k: Kubectl, checks: AccessCheck[]): Promise<boolean[]> {
  if (checks.length === 0) return [];
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
  const r = await k.call('create', ['-f', '-', '--validate=false', '-o', 'jsonpath={.status.allowed}{"\\n"}'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    allowFail: true,
  });
  const answers = r.stdout.split('\n').filter(Boolean);
  if (answers.length !== checks.length) return checks.map(() => true);
  return answers.map((a) => a === 'true');
}
