// RFC 5280 §6 path validation for what a TLS server chain needs: validity (inclusive bounds),
// unknown critical extensions, CA flags and keyCertSign, path length, EKU, name constraints,
// and the profile rules of ./profile.ts. Pure: one candidate path in, its failed checks out.
import { certFacts, certLabel, oneLineName } from './describe.js';
import { nameConstraintProblem } from './name-constraints.js';
import { validityProblem } from './path.js';
import { profileChecks } from './profile.js';
import type { CertEntry, Check } from './types.js';

export const where = (e: CertEntry) => `${e.source}: ${certLabel(e.cert)}`;

export function check(id: string, status: Check['status'], message: string, e?: CertEntry): Check {
  return {
    id,
    status,
    message,
    file: e?.source,
    subject: e ? oneLineName(e.cert.subject) : undefined,
    serial: e ? e.cert.serialNumber.toUpperCase() : undefined,
  };
}

/** Profile findings that are reported but do not make the certificate unfit to serve. */
const WARN_ONLY = new Set(['profile.cn-not-in-san']);

/** Validate one candidate path [leaf, ..., anchor]; returns the failed checks (empty when valid). */
export function validatePath(path: CertEntry[], at: Date, endsAtAnchor: boolean): Check[] {
  const problems = path.flatMap((e, i) => [
    ...certProblems(e, i, at),
    ...(i > 0 ? [...issuerProblems(path, i), ...nameConstraintChecks(path, i)] : []),
  ]);
  return [...problems, ...profileProblems(path, endsAtAnchor)];
}

/** Validity and unknown critical extensions, for every certificate of the path. */
function certProblems(e: CertEntry, i: number, at: Date): Check[] {
  const problems: Check[] = [];
  const f = certFacts(e.cert);
  const v = validityProblem(e, at);
  if (v) {
    const todo = i === 0 ? 'get a new certificate from your CA' : 'get a current CA bundle from your CA';
    problems.push(check('chain.validity', 'fail', `${where(e)} ${v}: ${todo}`, e));
  }
  if (f.unknownCritical.length) {
    const message =
      `${where(e)} has an unknown critical extension (${f.unknownCritical.join(', ')}) ` +
      'that TLS clients will reject';
    problems.push(check('chain.extensions', 'fail', message, e));
  }
  return problems;
}

/** What path[i], an issuer, must be: a CA allowed to sign, within its path length, with a TLS-server EKU. */
function issuerProblems(path: CertEntry[], i: number): Check[] {
  const problems: Check[] = [];
  const e = path[i]!;
  const f = certFacts(e.cert);
  const isAnchor = i === path.length - 1;
  // Trust anchors without basicConstraints (v1 roots) are accepted as configured trust.
  if (f.basicConstraints && !f.basicConstraints.ca) {
    const message =
      `${where(e)} signed ${certLabel(path[i - 1]!.cert)} but is not a CA ` +
      '(basicConstraints CA:FALSE or absent): the chain is wrong';
    problems.push(check('chain.ca', 'fail', message, e));
  }
  if (f.keyUsage && !f.keyUsage.includes('keyCertSign'))
    problems.push(
      check('chain.ca', 'fail', `${where(e)} is not allowed to sign certificates (keyUsage lacks keyCertSign)`, e),
    );
  const pathLen = f.basicConstraints?.pathLen;
  if (pathLen !== undefined) {
    // Non-self-issued intermediates between this CA and the leaf (RFC 5280 §4.2.1.9).
    const below = path.slice(1, i).filter((c) => c.cert.subject !== c.cert.issuer).length;
    if (below > pathLen) {
      const message = `${where(e)} allows ${pathLen} intermediate(s) below it (pathLen) but the chain has ${below}`;
      problems.push(check('chain.path-length', 'fail', message, e));
    }
  }
  if (f.eku && !isAnchor && f.eku.length && !f.eku.includes('serverAuth') && !f.eku.includes('anyExtendedKeyUsage')) {
    const message =
      `${where(e)} restricts its extended key usage to ${f.eku.join(', ')}, ` +
      'which excludes TLS server certificates';
    problems.push(check('chain.eku', 'fail', message, e));
  }
  return problems;
}

/** The name constraints of path[i] over every certificate below it. */
function nameConstraintChecks(path: CertEntry[], i: number): Check[] {
  const problems: Check[] = [];
  for (let j = 0; j < i; j++) {
    const below = path[j]!;
    // Self-issued intermediates are exempt from their issuers' constraints, except the leaf (§6.1.3 b).
    if (j > 0 && below.cert.subject === below.cert.issuer) continue;
    const nc = nameConstraintProblem(path[i]!, below);
    if (nc) problems.push(check('chain.name-constraints', 'fail', `${where(below)}: ${nc}`, below));
  }
  return problems;
}

/**
 * The profile checks of the path. A subject CN that is not among the SANs breaks a CA/B Forum
 * issuance rule (BR 7.1.4.3), but clients ignore the CN when SANs exist, so it does not stop the
 * certificate from serving. The trust anchor is configured trust: its serial encoding is not the
 * chain's problem (real roots such as Starfield G2 carry serial 0, x509-limbo online::fastly.com).
 */
function profileProblems(path: CertEntry[], endsAtAnchor: boolean): Check[] {
  const anchor = endsAtAnchor && path.length > 1 ? path[path.length - 1] : undefined;
  const isAnchorSerial = (p: Check) =>
    anchor !== undefined &&
    p.id === 'profile.serial' &&
    p.serial === anchor.cert.serialNumber.toUpperCase() &&
    p.subject === oneLineName(anchor.cert.subject);
  return profileChecks(path)
    .filter((p) => !isAnchorSerial(p))
    .map((p) => (WARN_ONLY.has(p.id) ? { ...p, status: 'warn' as const } : p));
}
