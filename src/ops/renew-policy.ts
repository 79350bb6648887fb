// Pure decisions for `renew`: when is a certificate due, and which candidate
// from a drop folder may replace it. No I/O here, so cron behaviour is unit-tested.

export type Threshold = { kind: 'days'; days: number } | { kind: 'percent'; percent: number };

/** Default like cert-manager: renew in the last third of the lifetime (renewBefore = 1/3 of duration). */
export const DEFAULT_THRESHOLD: Threshold = { kind: 'percent', percent: 100 / 3 };

export interface Lifetime {
  notBefore: Date;
  notAfter: Date;
}

export interface DueDecision {
  due: boolean;
  /** The moment from which the certificate counts as due. */
  renewAt: Date;
  reason: string;
}

const DAY_MS = 86_400_000;

/** Is a certificate with this lifetime due for renewal at `now` under `threshold`? */
export function decideDue(cert: Lifetime, threshold: Threshold, now: Date): DueDecision {
  const total = cert.notAfter.getTime() - cert.notBefore.getTime();
  const before = threshold.kind === 'days' ? threshold.days * DAY_MS : (total * threshold.percent) / 100;
  const renewAt = new Date(cert.notAfter.getTime() - before);
  const daysLeft = Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS);
  const rule =
    threshold.kind === 'days'
      ? `${threshold.days} days before expiry`
      : `the last ${threshold.percent.toFixed(0)}% of its lifetime`;
  if (now.getTime() >= cert.notAfter.getTime()) {
    return { due: true, renewAt, reason: `expired on ${cert.notAfter.toISOString()}` };
  }
  if (now.getTime() >= renewAt.getTime()) {
    return {
      due: true,
      renewAt,
      reason: `expires in ${daysLeft} days (${cert.notAfter.toISOString()}), within ${rule}`,
    };
  }
  return { due: false, renewAt, reason: `expires in ${daysLeft} days; due from ${renewAt.toISOString()} (${rule})` };
}

/**
 * Certificates shorter-lived than this renew at half their lifetime by default (certbot's rule for
 * short-lived profiles).
 */
export const SHORT_LIFETIME_MS = 10 * DAY_MS;

/**
 * The default threshold (the last third) leaves a 6-day certificate 2 days of retries; below 10
 * days of lifetime the default is half the lifetime instead, as certbot 4 does. An explicit
 * --before or --before-percent is kept as given.
 */
export function thresholdFor(cert: Lifetime, threshold: Threshold): Threshold {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return threshold === DEFAULT_THRESHOLD && life < SHORT_LIFETIME_MS ? { kind: 'percent', percent: 50 } : threshold;
}

/**
 * renew's plan for one certificate: due under the threshold, unless the CA suggests a renewal window
 * (RFC 9773 ARI), which then decides instead; `force` renews whatever either says.
 */
export function planRenewal(
  cert: Lifetime,
  o: { threshold: Threshold; now: Date; force?: boolean; windowStart?: Date },
): DueDecision {
  let due = decideDue(cert, thresholdFor(cert, o.threshold), o.now);
  const w = o.windowStart;
  if (w && !o.force) {
    due =
      o.now >= w
        ? { due: true, reason: `inside the CA's renewal window (ARI, from ${w.toISOString()})`, renewAt: w }
        : { due: false, reason: `the CA's renewal window (ARI) starts ${w.toISOString()}`, renewAt: w };
  }
  return o.force ? { ...due, due: true } : due;
}

export interface Candidate {
  /** Where it came from, for messages. */
  source: string;
  notBefore: Date;
  notAfter: Date;
  /** Did the full verify pass for this candidate? */
  verified: boolean;
  /** First failing check, when not verified. */
  problem?: string;
  sha256: string;
}

export type Pick =
  | { ok: true; candidate: Candidate; skipped: { source: string; why: string }[] }
  | { ok: false; why: string; skipped: { source: string; why: string }[] };

/**
 * The newest valid candidate that is newer than the installed certificate:
 * "newer" means a later notAfter (an older or the same certificate would be a downgrade),
 * and it must pass verify. Ties go to the later notBefore.
 */
export function pickCandidate(installed: Lifetime & { sha256: string }, candidates: readonly Candidate[]): Pick {
  const skipped: { source: string; why: string }[] = [];
  const usable: Candidate[] = [];
  for (const c of candidates) {
    if (c.sha256 === installed.sha256) skipped.push({ source: c.source, why: 'is the certificate already installed' });
    else if (!c.verified)
      skipped.push({ source: c.source, why: `fails verify: ${c.problem ?? 'see xsoar-cert verify'}` });
    else if (c.notAfter.getTime() <= installed.notAfter.getTime()) {
      skipped.push({
        source: c.source,
        why:
          `is not newer than the installed one (expires ${c.notAfter.toISOString()}, ` +
          `installed expires ${installed.notAfter.toISOString()})`,
      });
    } else usable.push(c);
  }
  usable.sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime() || b.notBefore.getTime() - a.notBefore.getTime());
  if (usable.length === 0) {
    return {
      ok: false,
      why:
        candidates.length === 0
          ? 'no certificate found in the folder'
          : 'no certificate in the folder is valid and newer than the installed one',
      skipped,
    };
  }
  return { ok: true, candidate: usable[0]!, skipped };
}

/** Parse --before / --before-percent into a Threshold (throws a message for the UsageError). */
export function parseThreshold(before?: string, beforePercent?: string): Threshold {
  if (before !== undefined && beforePercent !== undefined)
    throw new Error('use either --before or --before-percent, not both');
  if (before !== undefined) {
    const days = Number(before);
    if (!Number.isFinite(days) || days < 0 || !/^\d+(\.\d+)?$/.test(before))
      throw new Error(`--before takes a number of days, got "${before}"`);
    return { kind: 'days', days };
  }
  if (beforePercent !== undefined) {
    const p = Number(String(beforePercent).replace(/%$/, ''));
    if (!Number.isFinite(p) || p <= 0 || p >= 100)
      throw new Error(`--before-percent takes a percentage between 0 and 100, got "${beforePercent}"`);
    return { kind: 'percent', percent: p };
  }
  return DEFAULT_THRESHOLD;
}
