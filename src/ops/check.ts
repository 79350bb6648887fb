// `check` as an operation: resolve the tenants the way every fleet command does, read their health
// (ops/health.ts), decide (ops/health-verdict.ts), and optionally write the metrics file. Reads only.
import { UsageError } from '../errors.js';
import { Kubectl } from '../k8s/kubectl.js';
import { parseParallel, resolveTargets, type TargetFlags } from './fleet.js';
import { gatherHealth } from './health.js';
import {
  CHECK_STATE,
  DEFAULT_THRESHOLDS,
  checkOutcome,
  cleanText,
  tenantVerdict,
  worse,
  type CheckOutcome,
  type Thresholds,
} from './health-verdict.js';
import { renderMetrics, writeMetricsFile } from './metrics.js';
import { resolveSettings, type SettingFlags } from './settings.js';

export interface CheckOptions {
  where: SettingFlags & TargetFlags;
  warning?: string;
  critical?: string;
  parallel?: string;
  metricsFile?: string;
  /** Each kubectl call's limit. */
  timeoutS: number;
}

const MAX_DAYS = 36_500;

/** A whole number of days (0 to 36500) for --warning or --critical. */
export function parseDays(value: string | undefined, flag: string, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n > MAX_DAYS)
    throw new UsageError(`${flag} takes a whole number of days from 0 to ${MAX_DAYS}, not "${cleanText(value, 40)}"`);
  return n;
}

export function parseThresholds(o: Pick<CheckOptions, 'warning' | 'critical'>): Thresholds {
  return {
    warningDays: parseDays(o.warning, '--warning', DEFAULT_THRESHOLDS.warningDays),
    criticalDays: parseDays(o.critical, '--critical', DEFAULT_THRESHOLDS.criticalDays),
  };
}

/** The outcome for every tenant; throws only for what stops the check as a whole (flags, settings, -A). */
export async function runCheck(o: CheckOptions, now: () => Date = () => new Date()): Promise<CheckOutcome> {
  const th = parseThresholds(o);
  const parallel = parseParallel(o.parallel, 8);
  const s = resolveSettings(o.where);
  const kube = { context: s.context, kubeconfig: s.kubeconfig, timeoutMs: o.timeoutS * 1000 };
  const { namespace, allNamespaces, selector, tenantsFile } = o.where;
  const targets = await resolveTargets(
    { namespace, allNamespaces, selector, tenantsFile },
    { namespace: s.namespace, secret: s.secret },
    new Kubectl({ namespace: s.namespace, ...kube }),
  );
  // One tenant takes --endpoint (or the setting); a fleet's endpoints come from the tenants file.
  if (targets.length === 1 && !targets[0]!.endpoint && s.endpoint)
    targets[0] = { ...targets[0]!, endpoint: s.endpoint };
  const healths = await gatherHealth(targets, kube, {
    servername: s.servername,
    parallel,
    handshakeTimeoutMs: Math.min(5000, o.timeoutS * 1000),
  });
  const at = now();
  const outcome = checkOutcome(
    healths.map((h) => tenantVerdict(h, th, at)),
    th,
  );
  if (!o.metricsFile) return outcome;
  try {
    await writeMetricsFile(o.metricsFile, renderMetrics(healths));
    return outcome;
  } catch (err) {
    return {
      ...outcome,
      state: worse(outcome.state, CHECK_STATE.UNKNOWN),
      summary: `${outcome.summary}; metrics not written: ${cleanText((err as Error).message)}`,
    };
  }
}
