// Pure verification: every reason an install would fail, as a list of checks.
// Path validation follows RFC 5280 §6 for what a TLS server chain needs (./path-checks.ts):
// signatures, validity (inclusive bounds), CA flags and keyCertSign, path length, name
// constraints, unknown critical extensions, and a trust anchor. No I/O: the TLS handshake is separate.
import type { Check, CertEntry, KeyEntry, VerifyReport } from './types.js';
import { certFacts, certLabel, describeCert, keyDescription, keyMatchesCert, oneLineName } from './describe.js';
import { canonicalIp, matchHost } from './hostname.js';
import { explainLeftOut, pickLeaf } from './leaf.js';
import { lintChain } from './lint.js';
import { buildPath, dedupe, IssuerLinks, isSelfSigned, keyFitsCert } from './path.js';
import { check, validatePath, where } from './path-checks.js';

export interface VerifyInput {
  /** Certificates from --cert, in file order (the served order starts here). */
  certs: CertEntry[];
  /** Certificates from --chain files, in order. */
  chain: CertEntry[];
  /** Trust anchors: --ca, or the system store. */
  anchors: CertEntry[];
  /** Where the anchors came from, for messages ("root.pem" or "the system trust store"). */
  anchorSource: string;
  /** Private keys from --key (normally one). */
  keys: KeyEntry[];
  hosts: string[];
  at: Date;
  /** Is this anchor a publicly trusted root (in the system store)? Decides the 398-day lint. */
  isPublicRoot?: (anchor: CertEntry) => boolean;
}

export interface VerifyResult extends VerifyReport {
  /** The validated path, leaf first, ending at the anchor (when one was reached). */
  path: CertEntry[];
  /** The leaf chosen. */
  leafEntry?: CertEntry;
  /** The key that matches the leaf. */
  keyEntry?: KeyEntry;
  /** Leaf + intermediates in the order to serve them. */
  served: CertEntry[];
  anchor?: CertEntry;
}

const countOf = (checks: readonly Check[], status: Check['status']) => checks.filter((c) => c.status === status).length;

function report(checks: Check[], extra: Partial<VerifyResult> = {}): VerifyResult {
  const failures = countOf(checks, 'fail');
  const warnings = countOf(checks, 'warn');
  return { ok: failures === 0, checks, chain: [], failures, warnings, path: [], served: [], ...extra };
}

/** Everything about the certificate files except the live handshake. */
export function verifyBundle(input: VerifyInput): VerifyResult {
  if (input.certs.length === 0) return report([check('cert', 'fail', 'no certificate given: pass --cert FILE')]);
  const all = [...input.certs, ...input.chain];
  const { unique } = dedupe(all);
  // The leaf is in --cert: the one the key fits (several: the newest valid), else the one that
  // issues none of the others (wrong order tolerated). The same rule as `chain`.
  const links = new IssuerLinks();
  const inCert = dedupe(input.certs).unique;
  // A key that fits a CA certificate does not make it the leaf: the key-match check names it instead.
  const fitting = input.keys.find((k) =>
    inCert.some((c) => !certFacts(c.cert).basicConstraints?.ca && keyFitsCert(k, c)),
  );
  const choice = pickLeaf(inCert, unique, { key: fitting, at: input.at, links })!;
  const leaf = choice.leaf;
  const leafInfo = describeCert(leaf, input.at);
  const keyEntry = input.keys.find((k) => keyMatchesCert(k.key, leaf.cert));
  // Of several paths (cross-signs), the builder takes one ending at an anchor whose every
  // certificate is valid, then the one with the fewest failed checks: the user needs the problems
  // of the closest path, not of an expired detour.
  const pool = unique.filter((c) => c !== leaf);
  const built = buildPath(leaf, pool, {
    anchors: input.anchors,
    at: input.at,
    links,
    score: (p, trusted) => countOf(validatePath(p, input.at, trusted), 'fail'),
  });
  const complete = built.best.trusted;
  const path = built.best.certs;
  const served = servedChain(path, input.anchors);
  // The root is served only when the user gave it; lint says it need not be.
  const rootGiven = path.find((c, i) => i > 0 && isSelfSigned(c) && all.some((a) => a.der.equals(c.der)));
  const checks = [
    ...(choice.note ? [check('leaf', 'info', choice.note, leaf)] : []),
    ...keyChecks(input, unique, leaf, keyEntry),
    ...(complete ? trustedPathChecks(path, input) : untrustedPathChecks(path, pool, input)),
    ...orderChecks(all, served, leaf),
    ...hostChecks(input.hosts, leaf),
    ...lintChain({
      leaf,
      path,
      at: input.at,
      rootInServedChain: rootGiven,
      publicRoot: () => complete && Boolean(input.isPublicRoot?.(path[path.length - 1]!)),
    }),
    // What the served chain leaves out of the input, and why (install does the same).
    ...explainLeftOut(all, built.best, input.at, choice.passedOver, built.paths.slice(1)).map((l) =>
      check('chain.unused', 'info', `${where(l.entry)} is left out of the served chain: ${l.why}`, l.entry),
    ),
  ];
  return report(checks, {
    path,
    leafEntry: leaf,
    keyEntry,
    served,
    anchor: complete ? path[path.length - 1] : undefined,
    leaf: leafInfo,
    chain: path.map((c) => describeCert(c, input.at)),
  });
}

/** Does a --key fit the leaf? When none does, say whose key it is. */
function keyChecks(input: VerifyInput, unique: CertEntry[], leaf: CertEntry, keyEntry: KeyEntry | undefined): Check[] {
  if (input.keys.length === 0)
    return [check('key-match', 'skip', 'no --key given: the key match and TLS handshakes are not checked')];
  if (keyEntry)
    return [check('key-match', 'pass', `${keyEntry.source}: the private key matches ${certLabel(leaf.cert)}`, leaf)];
  const k = input.keys[0]!;
  const other = [...unique, ...input.anchors.filter((a) => a.source !== 'the system trust store')].find((c) =>
    keyMatchesCert(k.key, c.cert),
  );
  const message = other
    ? `${k.source}: this key belongs to another certificate in your files, ${where(other)}, ` +
      `not to the leaf ${certLabel(leaf.cert)}: pass the key of the leaf, or the leaf of this key`
    : `${k.source}: no certificate in your files matches this key (${keyDescription(k.key).keyType}); ` +
      `the leaf is ${where(leaf)}: find the key that was generated with this certificate's CSR`;
  return [check('key-match', 'fail', message, leaf)];
}

/** A path that ends at a trust anchor: every link was proven by its signature (isIssuedBy). */
function trustedPathChecks(path: CertEntry[], input: VerifyInput): Check[] {
  const anchor = path[path.length - 1]!;
  const labels = path.map((c) => certLabel(c.cert)).join(' → ');
  return [
    check('chain.signature', 'pass', `signatures verified along ${path.length} certificate(s): ${labels}`),
    check('chain.trust', 'pass', `the chain ends at ${certLabel(anchor.cert)} from ${input.anchorSource}`, anchor),
    ...validatePath(path, input.at, true),
  ];
}

/** A path that stops short of a trust anchor: at an untrusted root, a look-alike issuer, or a missing one. */
function untrustedPathChecks(path: CertEntry[], pool: CertEntry[], input: VerifyInput): Check[] {
  const top = path[path.length - 1]!;
  const sameName = [...input.anchors, ...pool].filter(
    (c) => c !== top && c.cert.subject === top.cert.issuer && !path.includes(c),
  );
  return [...validatePath(path, input.at, false), untrustedEnd(path, top, sameName, input)];
}

function untrustedEnd(path: CertEntry[], top: CertEntry, sameName: CertEntry[], input: VerifyInput): Check {
  const issuer = oneLineName(top.cert.issuer);
  if (isSelfSigned(top) && path.length > 0) {
    const system = input.anchorSource.includes('system');
    // A self-signed server certificate (the appliance default) is its own root.
    const what = path.length === 1 ? 'is self-signed and' : 'is a root that';
    const todo =
      path.length === 1
        ? `pass --ca ${top.source} to trust it explicitly (every client must trust it too)`
        : system
          ? 'pass --ca FILE if it is your private CA'
          : 'pass the right root with --ca';
    return check('chain.trust', 'fail', `${where(top)} ${what} is not in ${input.anchorSource}: ${todo}`, top);
  }
  if (sameName.length) {
    // A CA with the right name is present but its key did not sign this certificate: a re-keyed
    // or look-alike CA. Saying "missing" here would send the user looking for a file they have.
    const message =
      `${where(top)} names "${issuer}" as its issuer, and ${where(sameName[0]!)} has that name, ` +
      'but its key did not sign this certificate: get the CA certificate that actually issued it ' +
      '(a re-issued CA has a new key)';
    return check('chain.signature', 'fail', message, top);
  }
  const aki = certFacts(top.cert).aki;
  const message =
    `${where(top)} was issued by "${issuer}"${aki ? ` (AKI ${aki})` : ''}, which is missing: ` +
    'add that intermediate with --chain FILE, or pass its root with --ca';
  return check('chain.trust', 'fail', message, top);
}

/** Install writes leaf → intermediates, never a self-signed root. */
function servedChain(path: CertEntry[], anchors: readonly CertEntry[]): CertEntry[] {
  const anchorDer = new Set(anchors.map((a) => a.der.toString('base64')));
  const served = path.filter((c, i) => i === 0 || !anchorDer.has(c.der.toString('base64')) || !isSelfSigned(c));
  return served.filter((c, i) => i === 0 || !isSelfSigned(c));
}

/** Tell the user when their files list the served certificates in another order. */
function orderChecks(all: CertEntry[], served: CertEntry[], leaf: CertEntry): Check[] {
  const given = all.filter((c) => served.some((s) => s.der.equals(c.der)));
  const givenOrder = dedupe(given).unique;
  if (givenOrder.length <= 1 || givenOrder.every((c, i) => c.der.equals(served[i]?.der ?? Buffer.alloc(0)))) return [];
  const message =
    `${leaf.source}: the certificates are not in leaf → intermediate → root order; ` +
    'install writes them in the right order (or run "xsoar-cert chain" to fix the file)';
  return [check('chain.order', 'warn', message, leaf)];
}

function hostChecks(hosts: string[], leaf: CertEntry): Check[] {
  if (hosts.length === 0)
    return [
      check('host', 'skip', 'no --host given: the names are not checked (pass --host with the tenant name or IP)'),
    ];
  const f = certFacts(leaf.cert);
  return hosts.map((h) => {
    const m = matchHost(h, f.san, f.subjectCN);
    if (m.ok) return check('host', 'pass', `${h} matches ${m.detail}`, leaf);
    const what = canonicalIp(h) ? 'this IP as an IP SAN' : 'this name as a DNS SAN';
    return check(
      'host',
      'fail',
      `${where(leaf)} does not cover ${h}: ${m.detail}; get a certificate that lists ${what}`,
      leaf,
    );
  });
}

export function finishReport(r: VerifyResult, extra: Check[]): VerifyResult {
  const checks = [...r.checks, ...extra];
  const failures = countOf(checks, 'fail');
  const warnings = countOf(checks, 'warn');
  return { ...r, checks, failures, warnings, ok: failures === 0 };
}
