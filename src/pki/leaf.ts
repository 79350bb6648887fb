// Which certificate is the leaf, and why each other input certificate is left out of the
// served chain: shared by `chain`, `verify`, `install` and `renew --from` (./path.ts builds
// the path itself).
import { certFacts, certLabel } from './describe.js';
import {
  dedupe,
  guarded,
  IssuerLinks,
  isSelfSigned,
  keyFitsCert,
  spki,
  validityProblem,
  type CandidatePath,
  type LeftOut,
} from './path.js';
import type { CertEntry, KeyEntry } from './types.js';

export interface LeafChoice {
  leaf: CertEntry;
  by: 'key' | 'issues-nothing';
  /** Other certificates that could have been the leaf, and why they were not chosen. */
  passedOver: { entry: CertEntry; reason: 'leaf' | 'unrelated'; why: string }[];
  /** One line for the user when there was a choice to make. */
  note?: string;
}

const isCA = (e: CertEntry) => certFacts(e.cert).basicConstraints?.ca === true;
const keyOf = (e: CertEntry) => spki(e.cert.publicKey, e);
const issuedAt = (e: CertEntry) => new Date(e.cert.validFrom).toISOString();

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
  const by: LeafChoice['by'] = opts.key ? 'key' : 'issues-nothing';
  const qualified = opts.key
    ? candidates.filter((c) => keyFitsCert(opts.key!, c))
    : issuingNothing(candidates, pool, opts.links ?? new IssuerLinks());
  if (qualified.length === 0) return undefined;
  // Valid ones first, in the order given; among the certificates for the first one's key
  // (a renewal next to the certificate it replaces), the newest.
  const ranked = [...qualified].sort(
    (a, b) => Number(Boolean(validityProblem(a, opts.at))) - Number(Boolean(validityProblem(b, opts.at))),
  );
  const sameKey = ranked.filter(
    (c) =>
      keyOf(c).equals(keyOf(ranked[0]!)) &&
      Boolean(validityProblem(c, opts.at)) === Boolean(validityProblem(ranked[0]!, opts.at)),
  );
  const leaf = sameKey.reduce((n, c) =>
    new Date(c.cert.validFrom).getTime() > new Date(n.cert.validFrom).getTime() ? c : n,
  );
  const passedOver = ranked.filter((entry) => entry !== leaf).map((entry) => passedOverEntry(entry, leaf, opts.at));
  return { leaf, by, passedOver, note: choiceNote(leaf, by, passedOver) };
}

/** Without a key: the candidates that issue none of `pool`, non-CA ones first, else the first candidate. */
function issuingNothing(candidates: readonly CertEntry[], pool: readonly CertEntry[], links: IssuerLinks) {
  const issuesNothing = (c: CertEntry) =>
    !pool.some((o) => o !== c && !o.der.equals(c.der) && guarded(() => links.issued(o, c)));
  // Non-CA certificates first: their check is a name comparison in practice (nothing names them as issuer).
  let qualified = candidates.filter((c) => !isCA(c) && issuesNothing(c));
  if (qualified.length === 0) qualified = candidates.filter((c) => isCA(c) && issuesNothing(c));
  if (qualified.length === 0) qualified = candidates.slice(0, 1);
  return qualified;
}

function passedOverEntry(entry: CertEntry, leaf: CertEntry, at: Date): LeafChoice['passedOver'][number] {
  const v = validityProblem(entry, at);
  if (!keyOf(entry).equals(keyOf(leaf))) {
    return {
      entry,
      reason: 'unrelated',
      why:
        `another end-entity certificate (for a different key)${v ? ` that ${v}` : ''}; ` +
        'pass --key to choose it instead',
    };
  }
  const older = `it is older (issued ${issuedAt(entry)}) than the one used (issued ${issuedAt(leaf)})`;
  return { entry, reason: 'leaf', why: `another certificate for the same key: ${v ? `it ${v}` : older}` };
}

/** One line when there was a choice: several certificates for the key, or several end-entity ones. */
function choiceNote(leaf: CertEntry, by: LeafChoice['by'], passedOver: LeafChoice['passedOver']): string | undefined {
  const same = passedOver.filter((p) => p.reason === 'leaf').length;
  if (same)
    return (
      `${same + 1} certificates for the same key were given; using the newest valid one, ` +
      `${leaf.source}: ${certLabel(leaf.cert)} (issued ${issuedAt(leaf)})`
    );
  if (passedOver.length && by !== 'key')
    return (
      `${passedOver.length + 1} end-entity certificates were given; ` +
      `using ${leaf.source}: ${certLabel(leaf.cert)} (pass --key to choose)`
    );
  return undefined;
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
