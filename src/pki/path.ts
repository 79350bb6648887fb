// The one certification-path builder: `chain`, `verify`, `install` and `renew --from` all
// build the path here (and choose the leaf in ./leaf.ts), so they agree on what is served.
//
// Issuers are found by name, narrowed by key identifier, and proven by signature (never by name
// alone: cross-signs and re-keyed CAs share names). The search is bounded (candidates per step,
// depth, signature checks in total) because a hostile bundle of same-named CAs otherwise makes it
// exponential. Among the paths found it prefers, in order: one that ends at a trust anchor, one
// whose every certificate is valid at `at`, the one the caller scores best (verify: fewest failed
// RFC 5280 checks), then the shortest. This is what picks ISRG Root X1 over an expired DST Root
// CA X3 cross-sign in a Let's Encrypt 2021 bundle.
import { createPublicKey } from 'node:crypto';
import { InputError } from '../errors.js';
import { certFacts, certLabel, oneLineName, safeVerify } from './describe.js';
import type { CertEntry, KeyEntry } from './types.js';

/** Links from leaf to anchor at most (RFC 5280 sets no limit; clients stop near 10). */
export const MAX_PATH_DEPTH = 10;
/** Issuer candidates tried per certificate, after name and key-identifier matching. */
export const MAX_CANDIDATES_PER_STEP = 16;
/** Signature checks per build: realistic inputs need tens; 400 same-named CAs would need 160,000. */
export const MAX_SIGNATURE_CHECKS = 256;
/** Complete paths collected before choosing. */
const MAX_COMPLETE = 16;

/** The bound was hit before any usable path was found: a hostile or absurd input. */
export class PathBudgetError extends InputError {}

const derKey = (e: CertEntry) => e.der.toString('base64');

/** "Does `parent` issue `child`?", memoised and counted against a budget shared by one build. */
export class IssuerLinks {
  private readonly memo = new Map<CertEntry, Map<CertEntry, boolean>>();
  checks = 0;
  constructor(private readonly budget = MAX_SIGNATURE_CHECKS) {}

  /** Name and key identifier only: no signature, no budget. */
  static mayIssue(child: CertEntry, parent: CertEntry): boolean {
    if (child.cert.issuer !== parent.cert.subject) return false;
    const aki = certFacts(child.cert).aki;
    const ski = certFacts(parent.cert).ski;
    return !(aki && ski && aki !== ski);
  }

  issued(child: CertEntry, parent: CertEntry): boolean {
    if (!IssuerLinks.mayIssue(child, parent)) return false;
    let row = this.memo.get(child);
    if (!row) this.memo.set(child, (row = new Map()));
    const hit = row.get(parent);
    if (hit !== undefined) return hit;
    if (++this.checks > this.budget) throw new BudgetExceeded();
    const ok = safeVerify(child.cert, parent.cert);
    row.set(parent, ok);
    return ok;
  }

  get exhausted(): boolean {
    return this.checks >= this.budget;
  }
}

class BudgetExceeded extends Error {}

/** Linked by name and key identifier, proven by the signature (one-off, unbudgeted). */
export function isIssuedBy(child: CertEntry, parent: CertEntry): boolean {
  return IssuerLinks.mayIssue(child, parent) && safeVerify(child.cert, parent.cert);
}

export function isSelfSigned(e: CertEntry): boolean {
  return isIssuedBy(e, e);
}

/** RFC 5280 §4.1.2.5, at one-second resolution (x509-limbo notafter-fractional). */
export function validityProblem(e: CertEntry, at: Date): string | undefined {
  const nb = new Date(e.cert.validFrom);
  const na = new Date(e.cert.validTo);
  const t = Math.floor(at.getTime() / 1000) * 1000;
  if (t < nb.getTime()) return `is not valid until ${nb.toISOString()}`;
  if (t > na.getTime()) return `expired on ${na.toISOString()}`;
  return undefined;
}

/** Remove exact duplicates (same DER), keeping the first occurrence. */
export function dedupe(certs: readonly CertEntry[]): { unique: CertEntry[]; duplicates: CertEntry[] } {
  const seen = new Set<string>();
  const unique: CertEntry[] = [];
  const duplicates: CertEntry[] = [];
  for (const c of certs) {
    const k = derKey(c);
    if (seen.has(k)) duplicates.push(c);
    else {
      seen.add(k);
      unique.push(c);
    }
  }
  return { unique, duplicates };
}

const spkiCache = new WeakMap<object, Buffer>();
/** DER SubjectPublicKeyInfo of `k`, cached on `holder` (a certificate or key entry). */
export function spki(k: { export: (o: { format: 'der'; type: 'spki' }) => Buffer }, holder: object): Buffer {
  let v = spkiCache.get(holder);
  if (!v) spkiCache.set(holder, (v = k.export({ format: 'der', type: 'spki' })));
  return v;
}

/** Does this private key belong to this certificate? Compares the SubjectPublicKeyInfo (cached). */
export function keyFitsCert(key: KeyEntry, cert: CertEntry): boolean {
  const a = spki(key.key.type === 'public' ? key.key : createPublicKey(key.key), key);
  return a.equals(spki(cert.cert.publicKey, cert));
}

/** Run a budgeted check; when the budget is gone the answer is "no" (the builder reports the bound). */
export function guarded(f: () => boolean): boolean {
  return budgeted(f) === true;
}

export interface CandidatePath {
  /** Leaf first; the last element is the anchor, a self-signed root, or where the search stopped. */
  certs: CertEntry[];
  /** Ends at one of the trust anchors. */
  trusted: boolean;
  /** Ends at a self-signed certificate that is not an anchor. */
  selfSignedEnd: boolean;
  /** Certificates of the path not valid at `at`. */
  invalid: CertEntry[];
  /** The caller's score (lower is better), e.g. failed RFC 5280 checks. */
  score: number;
  /** Set when the path stops below a root: the issuer that was not found. */
  missingIssuer?: { subject: string; aki?: string };
}

export interface PathOptions {
  anchors?: readonly CertEntry[];
  at: Date;
  /** Lower is better; called once per complete (or self-signed-ended) path. */
  score?: (path: CertEntry[], trusted: boolean) => number;
  links?: IssuerLinks;
}

export interface LeftOut {
  entry: CertEntry;
  reason: 'duplicate' | 'alternative' | 'unrelated' | 'leaf';
  /** One line: why this certificate is not in the chosen path. */
  why: string;
}

export interface PathResult {
  best: CandidatePath;
  /** Every path considered, best first. */
  paths: CandidatePath[];
  /** Input certificates that are not in `best`, with the reason. */
  leftOut: LeftOut[];
}

function rank(a: CandidatePath, b: CandidatePath): number {
  const end = (p: CandidatePath) => (p.trusted ? 0 : p.selfSignedEnd ? 1 : 2);
  return (
    end(a) - end(b) ||
    Number(a.invalid.length > 0) - Number(b.invalid.length > 0) ||
    a.score - b.score ||
    a.invalid.length - b.invalid.length ||
    // Complete paths: the shorter one; incomplete ones: the longer one got further.
    (end(a) === 2 ? b.certs.length - a.certs.length : a.certs.length - b.certs.length)
  );
}

/** What a search step needs to know, the same for every step of one build. */
interface Search {
  links: IssuerLinks;
  isAnchor: (c: CertEntry) => boolean;
  /** Every candidate issuer, by subject name. */
  bySubject: Map<string, CertEntry[]>;
  opts: PathOptions;
}

/** The paths a search step found, how many of them are complete, and whether a bound was hit. */
interface Found {
  paths: CandidatePath[];
  complete: number;
  budgetHit: boolean;
}

/**
 * Every path from `leaf` through `pool` to an anchor or a self-signed root, within the bounds,
 * ranked best first. Throws PathBudgetError only when the bound was hit and no complete path
 * was found: the user gets a message rather than a wrong "issuer missing".
 */
export function buildPath(leaf: CertEntry, pool: readonly CertEntry[], opts: PathOptions): PathResult {
  const links = opts.links ?? new IssuerLinks();
  const anchors = opts.anchors ?? [];
  const anchorKeys = new Set(anchors.map(derKey));
  // The input's own copy of an anchor comes first, so a root the user gave is named as theirs.
  const bySubject = bySubjectName(dedupe([...pool, ...anchors]).unique);
  const search: Search = { links, isAnchor: (c) => anchorKeys.has(derKey(c)), bySubject, opts };
  const { paths, budgetHit } = walk([leaf], search, 0);
  paths.sort(rank);
  const best = paths[0] ?? { certs: [leaf], trusted: false, selfSignedEnd: false, invalid: [], score: 0 };
  if (budgetHit && !best.trusted && !best.selfSignedEnd) {
    const crowd = Math.max(...[...bySubject.values()].map((l) => l.length));
    throw new PathBudgetError(
      `${leaf.source}: gave up building the chain of ${certLabel(leaf.cert)} after ${links.checks} signature ` +
        `checks: the input holds ${crowd} CA certificates with the same name`,
      {
        file: leaf.source,
        hint: 'Pass only the certificates of this chain (the leaf, its intermediates and the root).',
      },
    );
  }
  return { best, paths, leftOut: [] };
}

function bySubjectName(certs: readonly CertEntry[]): Map<string, CertEntry[]> {
  const bySubject = new Map<string, CertEntry[]>();
  for (const c of certs) {
    const list = bySubject.get(c.cert.subject);
    if (list) list.push(c);
    else bySubject.set(c.cert.subject, [c]);
  }
  return bySubject;
}

/** One path found: scored when it is complete (it reached an anchor or a root). */
function ended(
  certs: CertEntry[],
  s: Search,
  trusted: boolean,
  selfSignedEnd: boolean,
  missingIssuer?: CandidatePath['missingIssuer'],
): Found {
  const invalid = certs.filter((c) => validityProblem(c, s.opts.at));
  const score = missingIssuer || !s.opts.score ? 0 : s.opts.score(certs, trusted);
  const path: CandidatePath = { certs, trusted, selfSignedEnd, invalid, score, missingIssuer };
  return { paths: [path], complete: missingIssuer ? 0 : 1, budgetHit: false };
}

/**
 * Depth first from the last certificate of `path`, after `completeBefore` complete paths were
 * found elsewhere; stops once MAX_COMPLETE complete paths are found in all.
 */
function walk(path: CertEntry[], s: Search, completeBefore: number): Found {
  const found: Found = { paths: [], complete: 0, budgetHit: false };
  if (completeBefore >= MAX_COMPLETE) return found;
  const cur = path[path.length - 1]!;
  const selfSigned = (c: CertEntry) => guarded(() => s.links.issued(c, c));
  // An anchor ends the path, even the leaf itself (the appliance's self-signed default with --ca).
  if (s.isAnchor(cur)) return ended(path, s, true, false);
  if (path.length > 1 && selfSigned(cur)) return ended(path, s, false, true);
  const missing = { subject: oneLineName(cur.cert.issuer), aki: certFacts(cur.cert).aki };
  if (path.length >= MAX_PATH_DEPTH) return ended(path, s, false, false, missing);
  const named = issuerCandidates(cur, path, s);
  found.budgetHit = named.length > MAX_CANDIDATES_PER_STEP;
  let any = false;
  for (const next of named.slice(0, MAX_CANDIDATES_PER_STEP)) {
    const issued = budgeted(() => s.links.issued(cur, next));
    if (issued === 'exhausted') {
      found.budgetHit = true;
      break;
    }
    if (!issued) continue;
    any = true;
    const below = walk([...path, next], s, completeBefore + found.complete);
    found.paths.push(...below.paths);
    found.complete += below.complete;
    found.budgetHit ||= below.budgetHit;
    if (completeBefore + found.complete >= MAX_COMPLETE) return found;
  }
  if (any) return found;
  const ss = selfSigned(cur);
  const last = ended(path, s, false, ss, ss ? undefined : missing);
  return {
    paths: [...found.paths, ...last.paths],
    complete: found.complete + last.complete,
    budgetHit: found.budgetHit,
  };
}

/** The certificates that may have issued `cur` by name and key identifier, not already on the path. */
function issuerCandidates(cur: CertEntry, path: readonly CertEntry[], s: Search): CertEntry[] {
  const named = (s.bySubject.get(cur.cert.issuer) ?? []).filter(
    (c) => c !== cur && !path.some((p) => p.der.equals(c.der)) && IssuerLinks.mayIssue(cur, c),
  );
  // Anchors first, then certificates valid now: the likeliest good paths are tried within the bound.
  return named.sort(
    (a, b) =>
      Number(!s.isAnchor(a)) - Number(!s.isAnchor(b)) ||
      Number(Boolean(validityProblem(a, s.opts.at))) - Number(Boolean(validityProblem(b, s.opts.at))),
  );
}

/** A budgeted check's answer, or 'exhausted' when the signature budget ran out. */
function budgeted(f: () => boolean): boolean | 'exhausted' {
  try {
    return f();
  } catch (err) {
    if (err instanceof BudgetExceeded) return 'exhausted';
    throw err;
  }
}
