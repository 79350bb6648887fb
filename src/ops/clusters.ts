// Many clusters in one run: the tenants grouped by kubeconfig context, each group run as its own
// fleet (its own kubectl proxy, preflight and batched transaction: k8s/connection.ts keys one proxy
// per kubeconfig and context), the outcomes merged in the order given. A group that throws (its
// cluster unreachable) fails its own tenants; the other clusters' results stand.
import { BusyError } from '../errors.js';
import { failedRow, tenantLabel, type FleetResult, type Target } from './fleet.js';
import { readMarker } from './state.js';
import { groupBy } from '../pool.js';

/** The tenants by context (undefined: the run's own), in the order each context first appears. */
export function byContext(targets: Target[]): Map<string | undefined, Target[]> {
  return groupBy(targets, (t) => t.context);
}

/** Does the run span more than one context (so a table names each tenant's)? */
export function manyClusters(targets: Target[]): boolean {
  return byContext(targets).size > 1;
}

/**
 * Run each context's group in turn and merge the results in `targets`' order. In turn, not at once:
 * the local locks, markers and renewal records are named by namespace/secret (state-dir.ts), so the
 * same names in two clusters must never be in flight together. With one group an error is thrown as
 * it always was; with several it fails that group's tenants only.
 */
export async function perCluster<T>(
  targets: Target[],
  lost: FleetResult<T>[],
  run: (context: string | undefined, group: Target[]) => Promise<FleetResult<T>[]>,
): Promise<FleetResult<T>[]> {
  const groups = byContext(targets);
  const solo = groups.size === 1 && lost.length === 0;
  const results = new Map<Target, FleetResult<T>>();
  for (const [context, group] of groups) {
    const started = Date.now();
    try {
      for (const r of await run(context, group)) results.set(r.target, r);
    } catch (err) {
      if (solo) throw err;
      for (const t of group) results.set(t, failedRow(t, err, Date.now() - started));
    }
  }
  return [...lost, ...targets.map((t) => results.get(t)!)];
}

/**
 * A marker a killed run left for this namespace/secret in another context than `context`: finishing
 * it here would restore the backup into the wrong cluster. The tenant is refused, naming the command
 * that finishes it where it belongs.
 */
export function markerOfAnotherCluster(t: Target, context: string | undefined): BusyError | undefined {
  const m = readMarker(t.namespace, t.secret);
  if (!m || m.context === undefined || context === undefined || m.context === context) return undefined;
  return new BusyError(
    `${tenantLabel(t)}: a run interrupted in context ${m.context} left its marker for ${t.namespace}/${t.secret}`,
    `Finish it first: xsoar-cert status --context ${m.context} -n ${t.namespace} --secret ${t.secret}`,
  );
}
