// The install transaction for many tenants: the one engine (engine.ts) with a target per tenant.
// Each step is one kubectl process for every tenant when the user may list across namespaces
// (engine-access.ts), and each tenant still ends on its new certificate (live) or its old one.
import type { Kubectl } from '../k8s/kubectl.js';
import type { Reporter } from './reporter.js';
import type { FleetResult, Target } from './fleet.js';
import type { NewContent, TransactionResult } from './transaction.js';
import { exitOf, runEngine } from './engine.js';

export { rolloutState } from './engine-access.js';

export interface FleetTransactionOptions {
  op?: 'install' | 'renew';
  targets: Target[];
  proxy: string;
  servername?: string;
  context?: string;
  /** One certificate for every tenant (install), or one per tenant (renew). */
  content: NewContent | ((t: Target) => NewContent);
  allowNameChange?: boolean;
  /** --no-confirm: endpoints are neither checked before nor confirmed after. */
  noConfirm?: boolean;
  dryRun?: boolean;
  timeoutS?: number;
  /** Tenants handled at once where a step goes tenant by tenant (TLS handshakes, namespaced calls). */
  parallel?: number;
}

export async function executeFleetTransaction(opts: FleetTransactionOptions, kubectl: Kubectl, out: Reporter): Promise<FleetResult<TransactionResult>[]> {
  const contentOf = (t: Target) => (typeof opts.content === 'function' ? opts.content(t) : opts.content);
  let outcomes;
  try {
    outcomes = await runEngine({ ...opts, op: opts.op ?? 'install', targets: opts.targets.map((t) => ({ ...t, content: contentOf(t) })) }, kubectl, out);
  } catch (err) {
    // A fleet of one is refused before any change by a throw, like a single install.
    if (opts.targets.length !== 1) throw err;
    return [{ target: opts.targets[0]!, ok: false, error: (err as Error).message, exitCode: exitOf(err as Error), ms: 0 }];
  }
  return outcomes.map((r, i) => ({ target: opts.targets[i]!, ok: r.ok, value: r.value, error: r.error?.message, exitCode: r.ok ? undefined : exitOf(r.error), ms: r.ms }));
}
