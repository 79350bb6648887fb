// Pure verification: every reason an install would fail, as a list of checks.
// Path validation follows RFC 5280 §6 for what a TLS server chain needs: signatures,
// validity (inclusive bounds), CA flags and keyCertSign, path length, name constraints,
// unknown critical extensions, and a trust anchor. No I/O: the TLS handshake is separate.
import type { Check, CertEntry, KeyEntry, VerifyReport } from './types.js';
import { certFacts, certLabel, describeCert, keyDescription, keyMatchesCert, oneLineName } from './describe.js';
import {
  buildPath,
  dedupe,
  explainLeftOut,
  IssuerLinks,
  isSelfSigned,
  keyFitsCert,
  pickLeaf,
  validityProblem,
} from './path.js';
import { canonicalIp, matchHost, normaliseHost } from './hostname.js';
import { ipInCidr } from './ip.js';
import { lintChain } from './lint.js';
import { profileChecks } from './profile.js';

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

const where = (e: CertEntry) => `${e.source}: ${certLabel(e.cert)}`;

function check(id: string, status: Check['status'], message: string, e?: CertEntry): Check {
  return {
    id,
    status,
    message,
    file: e?.source,
    subject: e ? oneLineName(e.cert.subject) : undefined,
    serial: e ? e.cert.serialNumber.toUpperCase() : undefined,
  };
}

function nameConstraintProblem(ca: CertEntry, subject: CertEntry): string | undefined {
  const nc = certFacts(ca.cert).nameConstraints;
  if (!nc) return undefined;
  const f = certFacts(subject.cert);
  // Denial-of-service guard (x509-limbo pathological::nc-dos-*): refuse absurd constraint work.
  const work =
    (nc.permittedDNS.length +
      nc.excludedDNS.length +
      nc.permittedIP.length +
      nc.excludedIP.length +
      nc.otherForms.length) *
    (f.san.dns.length + f.san.ip.length + 1);
  if (work > 65536)
    return `the name constraints of ${certLabel(ca.cert)} and the names of this certificate are too many to check (${work} comparisons)`;
  const inDns = (name: string, base: string) => {
    const n = normaliseHost(name).replace(/^\*\./, 'wildcard.');
    const b = normaliseHost(base);
    if (b === '') return true;
    if (b.startsWith('.')) return n.endsWith(b);
    return n === b || n.endsWith('.' + b);
  };
  // A wildcard SAN *.S stands for every one-label name under S, so it also clashes with an
  // excluded x.S (x509-limbo nc-forbids-dnsname-wildcard-san, CVE-2025-61727): a client would
  // accept bar.example.com under *.example.com although bar.example.com is excluded.
  const wildcardCovers = (name: string, base: string) => {
    const n = normaliseHost(name);
    const b = normaliseHost(base).replace(/^\./, '');
    if (!n.startsWith('*.') || !b) return false;
    const suffix = n.slice(1); // ".S"
    return b.endsWith(suffix) && !b.slice(0, -suffix.length).includes('.') && b.length > suffix.length;
  };
  for (const d of f.san.dns) {
    if (nc.excludedDNS.some((b) => inDns(d, b) || wildcardCovers(d, b)))
      return `DNS name ${d} is excluded by the name constraints of ${certLabel(ca.cert)}`;
    if (nc.permittedDNS.length && !nc.permittedDNS.some((b) => inDns(d, b)))
      return `DNS name ${d} is outside the permitted names (${nc.permittedDNS.join(', ')}) of ${certLabel(ca.cert)}`;
  }
  for (const ip of f.san.ip) {
    if (nc.excludedIP.some((c) => ipInCidr(ip, c)))
      return `IP ${ip} is excluded by the name constraints of ${certLabel(ca.cert)}`;
    const sameFamily = nc.permittedIP.filter((c) => c.includes(':') === ip.includes(':'));
    if (nc.permittedIP.length && !sameFamily.some((c) => ipInCidr(ip, c)))
      return `IP ${ip} is outside the permitted ranges (${nc.permittedIP.join(', ')}) of ${certLabel(ca.cert)}`;
  }
  // Without SANs, RFC 5280 applies DNS constraints to nothing; a CN that looks like a host
  // would still be matched by clients that use it, so apply DNS constraints to it too.
  if (f.san.dns.length === 0 && f.san.ip.length === 0) {
    for (const cn of f.subjectCN) {
      if (!/^[a-z0-9*.-]+\.[a-z]{2,}$/i.test(cn)) continue;
      if (
        nc.excludedDNS.some((b) => inDns(cn, b)) ||
        (nc.permittedDNS.length && !nc.permittedDNS.some((b) => inDns(cn, b)))
      ) {
        return `subject CN ${cn} violates the name constraints of ${certLabel(ca.cert)}`;
      }
    }
  }
  return undefined;
}

/** Profile findings that are reported but do not make the certificate unfit to serve. */
const WARN_ONLY = new Set(['profile.cn-not-in-san']);

/** Validate one candidate path [leaf, ..., anchor]; returns the failed checks (empty when valid). */
function validatePath(path: CertEntry[], at: Date, endsAtAnchor: boolean): Check[] {
  const problems: Check[] = [];
  const anchorIndex = path.length - 1;
  for (let i = 0; i < path.length; i++) {
    const e = path[i]!;
    const f = certFacts(e.cert);
    const v = validityProblem(e, at);
    if (v)
      problems.push(
        check(
          'chain.validity',
          'fail',
          `${where(e)} ${v}: ${i === 0 ? 'get a new certificate from your CA' : 'get a current CA bundle from your CA'}`,
          e,
        ),
      );
    if (f.unknownCritical.length)
      problems.push(
        check(
          'chain.extensions',
          'fail',
          `${where(e)} has an unknown critical extension (${f.unknownCritical.join(', ')}) that TLS clients will reject`,
          e,
        ),
      );
    if (i > 0) {
      const isAnchor = i === anchorIndex;
      // Trust anchors without basicConstraints (v1 roots) are accepted as configured trust.
      if (f.basicConstraints && !f.basicConstraints.ca) {
        problems.push(
          check(
            'chain.ca',
            'fail',
            `${where(e)} signed ${certLabel(path[i - 1]!.cert)} but is not a CA (basicConstraints CA:FALSE or absent): the chain is wrong`,
            e,
          ),
        );
      }
      if (f.keyUsage && !f.keyUsage.includes('keyCertSign'))
        problems.push(
          check('chain.ca', 'fail', `${where(e)} is not allowed to sign certificates (keyUsage lacks keyCertSign)`, e),
        );
      const pathLen = f.basicConstraints?.pathLen;
      if (pathLen !== undefined) {
        // Non-self-issued intermediates between this CA and the leaf (RFC 5280 §4.2.1.9).
        const below = path.slice(1, i).filter((c) => c.cert.subject !== c.cert.issuer).length;
        if (below > pathLen)
          problems.push(
            check(
              'chain.path-length',
              'fail',
              `${where(e)} allows ${pathLen} intermediate(s) below it (pathLen) but the chain has ${below}`,
              e,
            ),
          );
      }
      if (
        f.eku &&
        !isAnchor &&
        f.eku.length &&
        !f.eku.includes('serverAuth') &&
        !f.eku.includes('anyExtendedKeyUsage')
      ) {
        problems.push(
          check(
            'chain.eku',
            'fail',
            `${where(e)} restricts its extended key usage to ${f.eku.join(', ')}, which excludes TLS server certificates`,
            e,
          ),
        );
      }
      for (let j = 0; j < i; j++) {
        const below = path[j]!;
        // Self-issued intermediates are exempt from their issuers' constraints, except the leaf (§6.1.3 b).
        if (j > 0 && below.cert.subject === below.cert.issuer) continue;
        const nc = nameConstraintProblem(e, below);
        if (nc) problems.push(check('chain.name-constraints', 'fail', `${where(below)}: ${nc}`, below));
      }
    }
  }
  // A subject CN that is not among the SANs breaks a CA/B Forum issuance rule (BR 7.1.4.3), but
  // clients ignore the CN when SANs exist, so it does not stop the certificate from serving.
  // The trust anchor is configured trust: its serial encoding is not the chain's problem (real
  // roots such as Starfield G2 carry serial 0, x509-limbo online::fastly.com).
  const anchor = endsAtAnchor && path.length > 1 ? path[path.length - 1] : undefined;
  const isAnchorSerial = (p: Check) =>
    anchor !== undefined &&
    p.id === 'profile.serial' &&
    p.serial === anchor.cert.serialNumber.toUpperCase() &&
    p.subject === oneLineName(anchor.cert.subject);
  problems.push(
    ...profileChecks(path)
      .filter((p) => !isAnchorSerial(p))
      .map((p) => (WARN_ONLY.has(p.id) ? { ...p, status: 'warn' as const } : p)),
  );
  return problems;
}

/** Everything about the certificate files except the live handshake. */
export function verifyBundle(input: VerifyInput): VerifyResult {
  const checks: Check[] = [];
  const all = [...input.certs, ...input.chain];
  const { unique } = dedupe(all);
  const result = (extra: Partial<VerifyResult> = {}): VerifyResult => {
    const failures = checks.filter((c) => c.status === 'fail').length;
    const warnings = checks.filter((c) => c.status === 'warn').length;
    return { ok: failures === 0, checks, chain: [], failures, warnings, path: [], served: [], ...extra };
  };
  if (input.certs.length === 0) {
    checks.push(check('cert', 'fail', 'no certificate given: pass --cert FILE'));
    return result();
  }
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
  if (choice.note) checks.push(check('leaf', 'info', choice.note, leaf));

  // 1. Key.
  let keyEntry: KeyEntry | undefined;
  if (input.keys.length === 0) {
    checks.push(check('key-match', 'skip', 'no --key given: the key match and TLS handshakes are not checked'));
  } else {
    keyEntry = input.keys.find((k) => keyMatchesCert(k.key, leaf.cert));
    if (keyEntry) {
      checks.push(
        check('key-match', 'pass', `${keyEntry.source}: the private key matches ${certLabel(leaf.cert)}`, leaf),
      );
    } else {
      const k = input.keys[0]!;
      const other = [...unique, ...input.anchors.filter((a) => a.source !== 'the system trust store')].find((c) =>
        keyMatchesCert(k.key, c.cert),
      );
      checks.push(
        other
          ? check(
              'key-match',
              'fail',
              `${k.source}: this key belongs to another certificate in your files, ${where(other)}, not to the leaf ${certLabel(leaf.cert)}: pass the key of the leaf, or the leaf of this key`,
              leaf,
            )
          : check(
              'key-match',
              'fail',
              `${k.source}: no certificate in your files matches this key (${keyDescription(k.key).keyType}); the leaf is ${where(leaf)}: find the key that was generated with this certificate's CSR`,
              leaf,
            ),
      );
    }
  }

  // 2. Chain to a trust anchor.
  const pool = unique.filter((c) => c !== leaf);
  // Of several paths (cross-signs), the builder takes one ending at an anchor whose every
  // certificate is valid, then the one with the fewest failed checks: the user needs the problems
  // of the closest path, not of an expired detour.
  const fails = (cs: Check[]) => cs.filter((c) => c.status === 'fail').length;
  const built = buildPath(leaf, pool, {
    anchors: input.anchors,
    at: input.at,
    links,
    score: (p, trusted) => fails(validatePath(p, input.at, trusted)),
  });
  const complete = built.best.trusted;
  let path: CertEntry[];
  if (complete) {
    path = built.best.certs;
    const pathProblems = validatePath(path, input.at, true);
    // Every link of a complete path was proven by its signature (isIssuedBy), and it ends at an anchor.
    checks.push(
      check(
        'chain.signature',
        'pass',
        `signatures verified along ${path.length} certificate(s): ${path.map((c) => certLabel(c.cert)).join(' → ')}`,
      ),
    );
    checks.push(
      check(
        'chain.trust',
        'pass',
        `the chain ends at ${certLabel(path[path.length - 1]!.cert)} from ${input.anchorSource}`,
        path[path.length - 1],
      ),
    );
    checks.push(...pathProblems);
  } else {
    path = built.best.certs;
    checks.push(...validatePath(path, input.at, false));
    const top = path[path.length - 1]!;
    const sameName = [...input.anchors, ...pool].filter(
      (c) => c !== top && c.cert.subject === top.cert.issuer && !path.includes(c),
    );
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
      checks.push(check('chain.trust', 'fail', `${where(top)} ${what} is not in ${input.anchorSource}: ${todo}`, top));
    } else if (sameName.length) {
      // A CA with the right name is present but its key did not sign this certificate: a re-keyed
      // or look-alike CA. Saying "missing" here would send the user looking for a file they have.
      const cand = sameName[0]!;
      checks.push(
        check(
          'chain.signature',
          'fail',
          `${where(top)} names "${oneLineName(top.cert.issuer)}" as its issuer, and ${where(cand)} has that name, but its key did not sign this certificate: get the CA certificate that actually issued it (a re-issued CA has a new key)`,
          top,
        ),
      );
    } else {
      const aki = certFacts(top.cert).aki;
      checks.push(
        check(
          'chain.trust',
          'fail',
          `${where(top)} was issued by "${oneLineName(top.cert.issuer)}"${aki ? ` (AKI ${aki})` : ''}, which is missing: add that intermediate with --chain FILE, or pass its root with --ca`,
          top,
        ),
      );
    }
  }

  // 3. Served order: install writes leaf → intermediates; tell the user when their files differ.
  const anchorDer = new Set(input.anchors.map((a) => a.der.toString('base64')));
  const served = path.filter((c, i) => i === 0 || !anchorDer.has(c.der.toString('base64')) || !isSelfSigned(c));
  const servedNoRoot = served.filter((c, i) => i === 0 || !isSelfSigned(c));
  const given = all.filter((c) => servedNoRoot.some((s) => s.der.equals(c.der)));
  const givenOrder = dedupe(given).unique;
  if (givenOrder.length > 1 && givenOrder.some((c, i) => !c.der.equals(servedNoRoot[i]?.der ?? Buffer.alloc(0)))) {
    checks.push(
      check(
        'chain.order',
        'warn',
        `${leaf.source}: the certificates are not in leaf → intermediate → root order; install writes them in the right order (or run "xsoar-cert chain" to fix the file)`,
        leaf,
      ),
    );
  }

  // 4. Hosts.
  const f = certFacts(leaf.cert);
  if (input.hosts.length === 0) {
    checks.push(
      check('host', 'skip', 'no --host given: the names are not checked (pass --host with the tenant name or IP)'),
    );
  }
  for (const h of input.hosts) {
    const m = matchHost(h, f.san, f.subjectCN);
    checks.push(
      m.ok
        ? check('host', 'pass', `${h} matches ${m.detail}`, leaf)
        : check(
            'host',
            'fail',
            `${where(leaf)} does not cover ${h}: ${m.detail}; get a certificate that lists ${canonicalIp(h) ? 'this IP as an IP SAN' : 'this name as a DNS SAN'}`,
            leaf,
          ),
    );
  }

  // 5. Lint.
  const rootGiven = path.find((c, i) => i > 0 && isSelfSigned(c) && all.some((a) => a.der.equals(c.der)));
  checks.push(
    ...lintChain({
      leaf,
      path,
      at: input.at,
      rootInServedChain: rootGiven,
      publicRoot: () => complete && Boolean(input.isPublicRoot?.(path[path.length - 1]!)),
    }),
  );

  // 6. What the served chain leaves out of the input, and why (install does the same).
  for (const l of explainLeftOut(all, built.best, input.at, choice.passedOver, built.paths.slice(1))) {
    checks.push(check('chain.unused', 'info', `${where(l.entry)} is left out of the served chain: ${l.why}`, l.entry));
  }

  return result({
    path,
    leafEntry: leaf,
    keyEntry,
    served: servedNoRoot,
    anchor: complete ? path[path.length - 1] : undefined,
    leaf: leafInfo,
    chain: path.map((c) => describeCert(c, input.at)),
  });
}

export function finishReport(r: VerifyResult, extra: Check[]): VerifyResult {
  const checks = [...r.checks, ...extra];
  const failures = checks.filter((c) => c.status === 'fail').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  return { ...r, checks, failures, warnings, ok: failures === 0 };
}
