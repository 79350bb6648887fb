// The decisions of `xsoar-cert check` (pure): each tenant's state from its health facts, the
// fleet's worst, and the one line a monitoring plugin prints (monitoring-plugins guidelines:
// "STATE - summary | perfdata", exit 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN).
import { printable } from '../printable.js';
import type { TenantHealth } from './health.js';
import type { RenewalState } from './renewal-state.js';

export const CHECK_STATE = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type CheckState = (typeof CHECK_STATE)[keyof typeof CHECK_STATE];
export const STATE_NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

/** Worst wins, in Icinga's order: OK < WARNING < UNKNOWN < CRITICAL (a known problem outranks an unknown). */
const SEVERITY: Record<CheckState, number> = { 0: 0, 1: 1, 3: 2, 2: 3 };

export function worse(a: CheckState, b: CheckState): CheckState {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

export interface Thresholds {
  /** WARNING when fewer than this many whole days are left. */
  warningDays: number;
  /** CRITICAL when fewer than this many whole days are left (an expired certificate always is). */
  criticalDays: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { warningDays: 21, criticalDays: 7 };

export interface TenantVerdict {
  tenant: string;
  state: CheckState;
  /** Whole days until the installed certificate expires (negative once expired); absent when unread. */
  daysLeft?: number;
  notAfter?: string;
  /** Why the state is not OK, most important first. */
  reasons: string[];
}

export interface CheckOutcome {
  state: CheckState;
  summary: string;
  perfdata: string;
}

const DAY = 86_400_000;
const day = (iso: string) => iso.slice(0, 10);
const minute = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
const short = (fp: string) => `${fp.slice(0, 11)}…`;
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export function daysLeft(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / DAY);
}

/** The state of one tenant: expiry against the thresholds, the endpoint, the renewal record. */
export function tenantVerdict(h: TenantHealth, th: Thresholds, now: Date): TenantVerdict {
  const tenant = `${h.namespace}/${h.secret}`;
  if (!h.installed) return { tenant, state: CHECK_STATE.UNKNOWN, reasons: [h.problem ?? 'not read'] };
  const { notAfter, fingerprint } = h.installed;
  const days = daysLeft(notAfter, now);
  const reasons: string[] = [];
  let state: CheckState = CHECK_STATE.OK;
  const raise = (to: CheckState, reason: string) => {
    state = worse(state, to);
    reasons.push(reason);
  };
  if (Date.parse(notAfter) <= now.getTime()) raise(CHECK_STATE.CRITICAL, `expired ${minute(notAfter)}`);
  else if (days < th.criticalDays) raise(CHECK_STATE.CRITICAL, `expires in ${plural(days, 'day')} (${day(notAfter)})`);
  else if (days < th.warningDays) raise(CHECK_STATE.WARNING, `expires in ${plural(days, 'day')} (${day(notAfter)})`);
  const served = h.served;
  if (served && 'error' in served) raise(CHECK_STATE.CRITICAL, `endpoint ${served.error}`);
  else if (served && !served.matches)
    raise(
      CHECK_STATE.CRITICAL,
      `${h.endpoint} serves ${short(served.fingerprint)}, not the installed certificate ${short(fingerprint)}`,
    );
  if (h.stateError) raise(CHECK_STATE.WARNING, `renewal state unreadable: ${h.stateError}`);
  else if (h.state && h.state.failures > 0) raise(CHECK_STATE.WARNING, renewalFailing(h.state));
  return { tenant, state, daysLeft: days, notAfter, reasons };
}

/** "renewal failing since …, N attempts, last error …" */
export function renewalFailing(s: RenewalState): string {
  const since = s.failingSince ? ` since ${minute(s.failingSince)}` : '';
  const a = s.lastAttempt;
  const last = a ? `, last error: ${a.error ?? `${a.result} (exit ${a.exitCode})`}` : '';
  return `renewal failing${since}, ${plural(s.failures, 'attempt')}${last}`;
}

/** A perfdata label: quoted, a quote doubled; '=' cannot occur in one (guidelines §2.6). */
function perfLabel(label: string): string {
  return `'${label.replace(/'/g, "''").replace(/=/g, '_')}'`;
}

/**
 * The perfdata: days_left (the fleet's minimum), then one value per tenant read, each with the
 * thresholds as ranges ("21:" alerts below 21, guidelines §3.1).
 */
export function perfdata(verdicts: readonly TenantVerdict[], th: Thresholds): string {
  const known = verdicts.filter((v) => v.daysLeft !== undefined);
  if (known.length === 0) return '';
  const thr = `;${th.warningDays}:;${th.criticalDays}:`;
  const min = Math.min(...known.map((v) => v.daysLeft!));
  return [`days_left=${min}${thr}`, ...known.map((v) => `${perfLabel(v.tenant)}=${v.daysLeft}d${thr}`)].join(' ');
}

/** Untrusted text (kubectl's errors, a CA's detail) for the line: one line, no "|" (it starts the perfdata). */
export function cleanText(s: string, max = 300): string {
  const t = printable(s).replace(/\|/g, '/');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const MAX_NAMED = 5;

/** The fleet's state (the worst), the summary naming the worst tenants, and the perfdata. */
export function checkOutcome(verdicts: readonly TenantVerdict[], th: Thresholds): CheckOutcome {
  if (verdicts.length === 0) return { state: CHECK_STATE.UNKNOWN, summary: 'no tenant to check', perfdata: '' };
  const state = verdicts.map((v) => v.state).reduce(worse);
  const pd = perfdata(verdicts, th);
  if (state === CHECK_STATE.OK) return { state, summary: okSummary(verdicts), perfdata: pd };
  const worst = verdicts.filter((v) => v.state === state);
  const named = worst.slice(0, MAX_NAMED).map((v) => `${v.tenant}: ${v.reasons.map((r) => cleanText(r)).join(', ')}`);
  if (worst.length > MAX_NAMED) named.push(`and ${worst.length - MAX_NAMED} more`);
  let summary = named.join('; ');
  if (verdicts.length > 1) {
    const counts = ([2, 3, 1, 0] as CheckState[])
      .map((s) => [STATE_NAMES[s], verdicts.filter((v) => v.state === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${n} ${name}`);
    summary += ` (${verdicts.length} tenants: ${counts.join(', ')})`;
  }
  return { state, summary, perfdata: pd };
}

function okSummary(verdicts: readonly TenantVerdict[]): string {
  const soonest = verdicts.reduce((a, b) => (b.daysLeft! < a.daysLeft! ? b : a));
  const when = `expires ${day(soonest.notAfter!)} (${plural(soonest.daysLeft!, 'day')} left)`;
  if (verdicts.length === 1) return `${soonest.tenant} ${when}`;
  return `${verdicts.length} tenants OK; the soonest, ${soonest.tenant}, ${when}`;
}

/** The plugin's one line: "STATE - summary | perfdata". */
export function pluginLine(o: CheckOutcome): string {
  return `${STATE_NAMES[o.state]} - ${o.summary}${o.perfdata ? ` | ${o.perfdata}` : ''}`;
}
