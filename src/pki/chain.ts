// Orders any mix of certificates into leaf → intermediate(s) → root, with the one path builder
// (./path.ts) that verify and install use too, so `chain` writes what install would serve.
import type { Bundle, CertEntry, KeyEntry } from './types.js';
import { explainLeftOut, pickLeaf } from './leaf.js';
import { buildPath, dedupe, IssuerLinks, type LeftOut } from './path.js';

export type Dropped = LeftOut;

export interface ChainResult {
  /** Leaf first, then intermediates; the root last only when it was given and `withRoot`. */
  chain: CertEntry[];
  /** The self-signed root the chain ends at: from the input, or from `anchors` (see its `source`). */
  root?: CertEntry;
  /** True when the root came from `opts.anchors` rather than from the input. */
  rootFromAnchors?: boolean;
  /** Input certificates left out of the chain, each with the reason. */
  dropped: Dropped[];
  /** The issuer that is needed but absent (the chain stops before a root). */
  missingIssuer?: { subject: string; aki?: string };
  /** How the leaf was chosen. */
  leafBy: 'key' | 'issues-nothing';
  /** Said when several certificates could be the leaf. */
  leafNote?: string;
}

export class ChainError extends Error {}

export interface BuildChainOptions {
  /** The private key: the certificate it matches is the leaf. */
  key?: KeyEntry;
  /** End the chain with the root (when one is known). */
  withRoot?: boolean;
  /** Trusted roots: a path ending at one is preferred, and one finishes a chain whose root was not given. */
  anchors?: readonly CertEntry[];
  /** Validity is judged at this time (default now). */
  at?: Date;
}

/** Pure: order the certificates of `bundle` into a served chain. */
export function buildChain(bundle: Bundle, opts: BuildChainOptions = {}): ChainResult {
  const { unique } = dedupe(bundle.certs);
  if (unique.length === 0) throw new ChainError('no certificate in the input');
  const at = opts.at ?? new Date();
  const links = new IssuerLinks();
  const choice = pickLeaf(unique, unique, { key: opts.key, at, links });
  if (!choice) throw new ChainError(`${opts.key!.source}: this key matches none of the certificates given`);
  const leaf = choice.leaf;
  const pool = unique.filter((c) => c !== leaf);
  const { best, paths } = buildPath(leaf, pool, { anchors: opts.anchors, at, links });
  const end = best.certs[best.certs.length - 1]!;
  // A lone self-signed certificate is its own chain, with no separate root.
  const root = best.missingIssuer || best.certs.length === 1 ? undefined : end;
  const chain = best.certs;
  const served = root && !opts.withRoot ? chain.filter((c) => c !== root) : chain;
  const dropped = explainLeftOut(bundle.certs, best, at, choice.passedOver, paths.slice(1));
  const rootFromAnchors = root !== undefined && !unique.some((c) => c.der.equals(root.der));
  return {
    chain: served,
    root,
    rootFromAnchors,
    dropped,
    missingIssuer: best.missingIssuer,
    leafBy: choice.by,
    leafNote: choice.note,
  };
}

export function toPem(entries: readonly CertEntry[]): string {
  return entries.map((e) => e.cert.toString().trim() + '\n').join('');
}
