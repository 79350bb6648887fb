// The transaction for Kubernetes TLS secrets: the one engine (engine.ts) with the secret target,
// for one tenant (a failure is thrown, as every command expects) or many (one result each).
import type { Kubectl } from '../../k8s/kubectl.js';
import type { Reporter } from '../reporter.js';
import type { FleetResult, Target } from '../fleet.js';
import { kubernetesSecrets } from '../targets/k8s-secret/index.js';
import type { Preflight } from '../targets/k8s-secret/steps.js';
import { exitOf, runEngine, type EngineOptions } from './engine.js';
import { withCheckedFolders } from '../../state-dir.js';
import type { NewContent, PendingContent, TransactionResult } from './types.js';

export interface TransactionOptions extends Omit<EngineOptions, 'targets' | 'op' | 'parallel'> {
  op: EngineOptions['op'];
  namespace: string;
  secret: string;
  endpoint?: string;
  /** 'auto' or deployment names */
  proxy: string;
  content: NewContent | PendingContent;
  /** The preflight reads, when the caller started them early (readPreflight for this kubectl and secret). */
  preflight?: Promise<Preflight>;
}

export async function executeTransaction(
  opts: TransactionOptions,
  kubectl: Kubectl,
  out: Reporter,
): Promise<TransactionResult> {
  const { namespace, secret, endpoint, content, proxy, preflight, ...rest } = opts;
  const kind = kubernetesSecrets(kubectl, { proxy, preflight }, opts.op);
  const [r] = await runEngine({ ...rest, targets: [{ namespace, secret, endpoint, content }] }, kind, out);
  if (!r!.ok) throw r!.error;
  return r!.value!;
}

export interface FleetTransactionOptions extends Omit<EngineOptions, 'targets' | 'op' | 'confirm'> {
  op?: 'install' | 'renew';
  targets: Target[];
  proxy: string;
  /** One certificate for every tenant (install), or one per tenant (renew). */
  content: NewContent | PendingContent | ((t: Target) => NewContent | PendingContent);
}

export async function executeFleetTransaction(
  opts: FleetTransactionOptions,
  kubectl: Kubectl,
  out: Reporter,
): Promise<FleetResult<TransactionResult>[]> {
  const { content, proxy, targets, ...rest } = opts;
  const contentOf = (t: Target) => (typeof content === 'function' ? content(t) : content);
  const op = opts.op ?? 'install';
  let outcomes;
  try {
    const kind = kubernetesSecrets(kubectl, { proxy, parallel: opts.parallel }, op);
    outcomes = await withCheckedFolders(() =>
      runEngine({ ...rest, op, targets: targets.map((t) => ({ ...t, content: contentOf(t) })) }, kind, out),
    );
  } catch (err) {
    // A fleet of one is refused before any change by a throw, like a single install.
    if (targets.length !== 1) throw err;
    return [{ target: targets[0]!, ok: false, error: (err as Error).message, exitCode: exitOf(err as Error), ms: 0 }];
  }
  return outcomes.map((r, i) => ({
    target: targets[i]!,
    ok: r.ok,
    value: r.value,
    error: r.error?.message,
    exitCode: r.ok ? undefined : exitOf(r.error),
    ms: r.ms,
  }));
}
