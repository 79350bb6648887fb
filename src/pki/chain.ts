// Orders any mix of certificates into leaf → intermediate(s) → root. Issuers are
// found by signature (checkIssued + verify with the issuer's key), never by name alone,
// so two CAs with the same subject (cross-signs, re-keys) are told apart.
import type { Bundle, CertEntry, KeyEntry } from './types.js';
import { certFacts, keyMatchesCert, oneLineName, safeVerify } from './describe.js';

export interface Dropped {
  entry: CertEntry;
  reason: 'duplicate' | 'unrelated';
}

export interface ChainResult {
  /** Leaf first, then intermediates; the root last only when it was given and `withRoot`. */
  chain: CertEntry[];
  /** The self-signed root the chain ends at: from the input, or from `anchors` (see its `source`). */
  root?: CertEntry;
  /** True when the root came from `opts.anchors` rather than from the input. */
  rootFromAnchors?: boolean;
  dropped: Dropped[];
  /** The issuer that is needed but absent (the chain stops before a root). */
  missingIssuer?: { subject: string; aki?: string };
  /** How the leaf was chosen. */
  leafBy: 'key' | 'issues-nothing';
}

export function isIssuedBy(child: CertEntry, parent: CertEntry): boolean {
  // Linked by name and key identifier, proven by the signature. Not OpenSSL's checkIssued:
  // it also rejects issuers without keyCertSign, which would hide "this issuer is not a CA"
  // behind a misleading "issuer missing".
  if (child.cert.issuer !== parent.cert.subject) return false;
  const aki = certFacts(child.cert).aki;
  const ski = certFacts(parent.cert).ski;
  if (aki && ski && aki !== ski) return false;
  return safeVerify(child.cert, parent.cert);
}

export function isSelfSigned(e: CertEntry): boolean {
  return isIssuedBy(e, e);
}

/** Remove exact duplicates (same DER), keeping the first occurrence. */
export function dedupe(certs: readonly CertEntry[]): { unique: CertEntry[]; duplicates: CertEntry[] } {
  const seen = new Set<string>();
  const unique: CertEntry[] = [];
  const duplicates: CertEntry[] = [];
  for (const c of certs) {
    const k = c.der.toString('base64');
    if (seen.has(k)) duplicates.push(c);
    else {
      seen.add(k);
      unique.push(c);
    }
  }
  return { unique, duplicates };
}

export class ChainError extends Error {}

export interface BuildChainOptions {
  /** The private key: the certificate it matches is the leaf. */
  key?: KeyEntry;
  /** End the chain with the root (when one is known). */
  withRoot?: boolean;
  /**
   * Trusted roots to finish the chain with when the input stops at an intermediate whose
   * issuer is not given (the usual "leaf + intermediate from a public CA" case). Only
   * self-signed anchors are used, and only for the last link.
   */
  anchors?: readonly CertEntry[];
}

/** Pure: order the certificates of `bundle` into a served chain. */
export function buildChain(bundle: Bundle, opts: BuildChainOptions = {}): ChainResult {
  const { unique, duplicates } = dedupe(bundle.certs);
  if (unique.length === 0) throw new ChainError('no certificate in the input');
  let leaf: CertEntry | undefined;
  let leafBy: ChainResult['leafBy'] = 'issues-nothing';
  if (opts.key) {
    leaf = unique.find((c) => keyMatchesCert(opts.key!.key, c.cert));
    if (!leaf) throw new ChainError(`${opts.key.source}: this key matches none of the certificates given`);
    leafBy = 'key';
  } else {
    // The leaf issues none of the others; prefer non-CA certificates, then the first given.
    const issuesNothing = unique.filter((c) => !unique.some((o) => o !== c && isIssuedBy(o, c)));
    leaf = issuesNothing.find((c) => !certFacts(c.cert).basicConstraints?.ca) ?? issuesNothing[0] ?? unique[0];
  }
  const found = findPath(leaf!, unique, opts.anchors ?? []);
  const { chain, root, missingIssuer } = found;
  const served = root && !opts.withRoot ? chain.filter((c) => c !== root) : chain;
  const dropped: Dropped[] = [
    ...duplicates.map((entry) => ({ entry, reason: 'duplicate' as const })),
    ...unique.filter((c) => !chain.includes(c)).map((entry) => ({ entry, reason: 'unrelated' as const })),
  ];
  const rootFromAnchors = root !== undefined && !unique.includes(root);
  return { chain: served, root, rootFromAnchors, dropped, missingIssuer, leafBy };
}

interface PathResult {
  chain: CertEntry[];
  root?: CertEntry;
  missingIssuer?: { subject: string; aki?: string };
}

/** Links from leaf to root at most; more is a loop or an attack (RFC 5280 sets no limit, clients use ~10). */
const MAX_DEPTH = 12;
/** Issuer checks per search: bounds the backtracking on hostile bundles of same-name CAs. */
const MAX_STEPS = 2000;

/**
 * Depth-first search for a path that ends at a self-signed root (or an anchor). Greedy
 * following is not enough: a re-issued or cross-signed intermediate with the same name and
 * key verifies the same child but may lead to a root that is absent, so dead ends backtrack.
 * When no path is complete, the first (preferred) one is returned with its missing issuer.
 */
function findPath(leaf: CertEntry, pool: readonly CertEntry[], anchors: readonly CertEntry[]): PathResult {
  let steps = 0;
  const walk = (path: CertEntry[]): PathResult => {
    const cur = path[path.length - 1]!;
    if (isSelfSigned(cur)) return { chain: path, root: cur === leaf ? undefined : cur };
    const missing = { chain: path, missingIssuer: { subject: oneLineName(cur.cert.issuer), aki: certFacts(cur.cert).aki } };
    if (path.length >= MAX_DEPTH) return missing;
    const candidates = pool.filter((c) => !path.includes(c) && steps++ < MAX_STEPS && isIssuedBy(cur, c));
    // Prefer an issuer that is not self-signed when a cross-signed intermediate exists: it leads further.
    candidates.sort((a, b) => Number(isSelfSigned(a)) - Number(isSelfSigned(b)));
    let firstIncomplete: PathResult | undefined;
    for (const next of candidates) {
      const r = walk([...path, next]);
      if (!r.missingIssuer) return r;
      firstIncomplete ??= r;
    }
    const anchor = anchors.find((a) => isIssuedBy(cur, a) && isSelfSigned(a));
    if (anchor) return { chain: [...path, anchor], root: anchor };
    return firstIncomplete ?? missing;
  };
  return walk([leaf]);
}

export function toPem(entries: readonly CertEntry[]): string {
  return entries.map((e) => e.cert.toString().trim() + '\n').join('');
}
