// The one certification-path builder: `chain`, `verify`, `install` and `renew --from` all
// choose the leaf and its path here, so they agree on what is served.
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
function spki(k: { export: (o: { format: 'der'; type: 'spki' }) => Buffer }, holder: object): Buffer {
  let v = spkiCache.get(holder);
  if (!v) spkiCache.set(holder, (v = k.export({ format: 'der', type: 'spki' })));
  return v;
}

/** Does this private key belong to this certificate? Compares the SubjectPublicKeyInfo (cached). */
export function keyFitsCert(key: KeyEntry, cert: CertEntry): boolean {
  const a = spki(key.key.type === 'public' ? key.key : createPublicKey(key.key), key);
  return a.equals(spki(cert.cert.publicKey, cert));
}

export interface LeafChoice {
  leaf: CertEntry;
  by: 'key' | 'issues-nothing';
  /** Other certificates that could have been the leaf, and why they were not chosen. */
  passedOver: { entry: CertEntry; reason: 'leaf' | 'unrelated'; why: string }[];
  /** One line for the user when there was a choice to make. */
  note?: string;
}

const isCA = (e: CertEntry) => certFacts(e.cert).basicConstraints?.ca === true;

/**
 * The leaf among `candidates` (the certificates that may be served first): the one `key` fits,
 * else a certificate that issues none of `pool`, preferring non-CA ones. When several qualify
 * (a renewed certificate next to the old one, for the same key), the newest one valid at `at`
 * wins and the others are named, never dropped silently.
 */
export function pickLeaf(
  candidates: readonly CertEntry[],
  pool: readonly CertEntry[],
  opts: { key?: KeyEntry; at: Date; links?: IssuerLinks },
): LeafChoice | undefined {
  const links = opts.links ?? new IssuerLinks();
  let qualified: CertEntry[];
  let by: LeafChoice['by'] = 'issues-nothing';
  if (opts.key) {
    qualified = candidates.filter((c) => keyFitsCert(opts.key!, c));
    if (qualified.length === 0) return undefined;
    by = 'key';
  } else {
    const issuesNothing = (c: CertEntry) =>
      !pool.some((o) => o !== c && !o.der.equals(c.der) && guarded(() => links.issued(o, c)));
    // Non-CA certificates first: their check is a name comparison in practice (nothing names them as issuer).
    qualified = candidates.filter((c) => !isCA(c) && issuesNothing(c));
    if (qualified.length === 0) qualified = candidates.filter((c) => isCA(c) && issuesNothing(c));
    if (qualified.length === 0) qualified = candidates.slice(0, 1);
  }
  if (qualified.length === 0) return undefined;
  // Valid ones first, in the order given; among the certificates for the first one's key
  // (a renewal next to the certificate it replaces), the newest.
  const ranked = [...qualified].sort(
    (a, b) => Number(Boolean(validityProblem(a, opts.at))) - Number(Boolean(validityProblem(b, opts.at))),
  );
  const keyOf = (e: CertEntry) => spki(e.cert.publicKey, e);
  const sameKey = ranked.filter(
    (c) =>
      keyOf(c).equals(keyOf(ranked[0]!)) &&
      Boolean(validityProblem(c, opts.at)) === Boolean(validityProblem(ranked[0]!, opts.at)),
  );
  const leaf = sameKey.reduce((n, c) =>
    new Date(c.cert.validFrom).getTime() > new Date(n.cert.validFrom).getTime() ? c : n,
  );
  const passedOver: LeafChoice['passedOver'] = [];
  for (const entry of ranked) {
    if (entry === leaf) continue;
    const v = validityProblem(entry, opts.at);
    if (!keyOf(entry).equals(keyOf(leaf))) {
      passedOver.push({
        entry,
        reason: 'unrelated',
        why: `another end-entity certificate (for a different key)${v ? ` that ${v}` : ''}; pass --key to choose it instead`,
      });
    } else {
      passedOver.push({
        entry,
        reason: 'leaf',
        why: `another certificate for the same key: ${v ? `it ${v}` : `it is older (issued ${new Date(entry.cert.validFrom).toISOString()}) than the one used (issued ${new Date(leaf.cert.validFrom).toISOString()})`}`,
      });
    }
  }
  const same = passedOver.filter((p) => p.reason === 'leaf').length;
  const note = same
    ? `${same + 1} certificates for the same key were given; using the newest valid one, ${leaf.source}: ${certLabel(leaf.cert)} (issued ${new Date(leaf.cert.validFrom).toISOString()})`
    : passedOver.length && by !== 'key'
      ? `${passedOver.length + 1} end-entity certificates were given; using ${leaf.source}: ${certLabel(leaf.cert)} (pass --key to choose)`
      : undefined;
  return { leaf, by, passedOver, note };
}

/** Run a budgeted check; when the budget is gone the answer is "no" (the builder reports the bound). */
function guarded(f: () => boolean): boolean {
  try {
    return f();
  } catch (err) {
    if (err instanceof BudgetExceeded) return false;
    throw err;
  }
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

/**
 * Every path from `leaf` through `pool` to an anchor or a self-signed root, within the bounds,
 * ranked best first. Throws PathBudgetError only when the bound was hit and no complete path
 * was found: the user gets a message rather than a wrong "issuer missing".
 */
export function buildPath(leaf: CertEntry, pool: readonly CertEntry[], opts: PathOptions): PathResult {
  const links = opts.links ?? new IssuerLinks();
  const anchors = opts.anchors ?? [];
  const anchorKeys = new Set(anchors.map(derKey));
  const isAnchor = (c: CertEntry) => anchorKeys.has(derKey(c));
  // The input's own copy of an anchor comes first, so a root the user gave is named as theirs.
  const all = dedupe([...pool, ...anchors]).unique;
  const bySubject = new Map<string, CertEntry[]>();
  for (const c of all) {
    const list = bySubject.get(c.cert.subject);
    if (list) list.push(c);
    else bySubject.set(c.cert.subject, [c]);
  }
  const paths: CandidatePath[] = [];
  let complete = 0;
  let budgetHit = false;
  const finish = (
    certs: CertEntry[],
    trusted: boolean,
    selfSignedEnd: boolean,
    missingIssuer?: CandidatePath['missingIssuer'],
  ) => {
    const invalid = certs.filter((c) => validityProblem(c, opts.at));
    const score = missingIssuer || !opts.score ? 0 : opts.score(certs, trusted);
    paths.push({ certs, trusted, selfSignedEnd, invalid, score, missingIssuer });
    if (!missingIssuer) complete++;
  };
  const selfSigned = (c: CertEntry) => guarded(() => links.issued(c, c));
  const walk = (path: CertEntry[]): void => {
    if (complete >= MAX_COMPLETE) return;
    const cur = path[path.length - 1]!;
    // An anchor ends the path, even the leaf itself (the appliance's self-signed default with --ca).
    if (isAnchor(cur)) return finish(path, true, false);
    if (path.length > 1 && selfSigned(cur)) return finish(path, false, true);
    const missing = { subject: oneLineName(cur.cert.issuer), aki: certFacts(cur.cert).aki };
    if (path.length >= MAX_PATH_DEPTH) return finish(path, false, false, missing);
    const named = (bySubject.get(cur.cert.issuer) ?? []).filter(
      (c) => c !== cur && !path.some((p) => p.der.equals(c.der)) && IssuerLinks.mayIssue(cur, c),
    );
    // Anchors first, then certificates valid now: the likeliest good paths are tried within the bound.
    named.sort(
      (a, b) =>
        Number(!isAnchor(a)) - Number(!isAnchor(b)) ||
        Number(Boolean(validityProblem(a, opts.at))) - Number(Boolean(validityProblem(b, opts.at))),
    );
    if (named.length > MAX_CANDIDATES_PER_STEP) budgetHit = true;
    let any = false;
    for (const next of named.slice(0, MAX_CANDIDATES_PER_STEP)) {
      let ok: boolean;
      try {
        ok = links.issued(cur, next);
      } catch (err) {
        if (!(err instanceof BudgetExceeded)) throw err;
        budgetHit = true;
        break;
      }
      if (!ok) continue;
      any = true;
      walk([...path, next]);
      if (complete >= MAX_COMPLETE) return;
    }
    if (!any) {
      const ss = selfSigned(cur);
      finish(path, false, ss, ss ? undefined : missing);
    }
  };
  walk([leaf]);
  paths.sort(rank);
  const best = paths[0] ?? { certs: [leaf], trusted: false, selfSignedEnd: false, invalid: [], score: 0 };
  if (budgetHit && !best.trusted && !best.selfSignedEnd) {
    const crowd = Math.max(...[...bySubject.values()].map((l) => l.length));
    throw new PathBudgetError(
      `${leaf.source}: gave up building the chain of ${certLabel(leaf.cert)} after ${links.checks} signature checks: the input holds ${crowd} CA certificates with the same name`,
      {
        file: leaf.source,
        hint: 'Pass only the certificates of this chain (the leaf, its intermediates and the root).',
      },
    );
  }
  return { best, paths, leftOut: [] };
}

/**
 * Why each input certificate is not in `chosen`: a duplicate, another path's certificate (an
 * expired cross-sign, a second root), another leaf, or unrelated to this chain.
 */
export function explainLeftOut(
  input: readonly CertEntry[],
  chosen: CandidatePath,
  at: Date,
  extra: LeafChoice['passedOver'] = [],
  others: readonly CandidatePath[] = [],
): LeftOut[] {
  const { unique, duplicates } = dedupe(input);
  const inChosen = (c: CertEntry) => chosen.certs.some((p) => p.der.equals(c.der));
  const out: LeftOut[] = duplicates.map((entry) => ({
    entry,
    reason: 'duplicate',
    why: 'a duplicate of a certificate given earlier',
  }));
  const end = chosen.certs[chosen.certs.length - 1]!;
  for (const entry of unique) {
    if (inChosen(entry)) continue;
    const leafNote = extra.find((x) => x.entry === entry);
    if (leafNote) {
      out.push({ entry, reason: leafNote.reason, why: leafNote.why });
      continue;
    }
    if (others.some((p) => p.certs.some((c) => c.der.equals(entry.der)))) {
      const v = validityProblem(entry, at);
      const crossSign = !isSelfSigned(entry) && chosen.certs.some((c) => c.cert.subject === entry.cert.subject);
      const what = crossSign
        ? 'a cross-signed copy of a CA in the chain'
        : isSelfSigned(entry)
          ? 'another root'
          : 'a CA on another path';
      out.push({
        entry,
        reason: 'alternative',
        why: `${what}${v ? ` that ${v}` : ''}; the chain ends at ${certLabel(end.cert)} instead`,
      });
      continue;
    }
    out.push({ entry, reason: 'unrelated', why: 'not part of this chain (it issued none of its certificates)' });
  }
  return out;
}
