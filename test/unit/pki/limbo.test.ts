// x509-limbo (Apache-2.0, test/fixtures/x509-limbo/NOTICE): every SERVER case through
// verifyBundle's path validation, profile checks, lint and host check (no TLS, no key).
// A disagreement must be listed in expected-disagreements.json with its reason; a listed
// case that starts agreeing fails too, so the list can only shrink.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBundle } from '../../../src/pki/parse.js';
import { verifyBundle } from '../../../src/pki/verify.js';
import type { CertEntry } from '../../../src/pki/types.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/x509-limbo');

interface LimboCase {
  id: string;
  validation_kind: 'SERVER' | 'CLIENT';
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
  expected_peer_name: { kind: 'DNS' | 'IP' | 'RFC822'; value: string } | null;
  expected_result: 'SUCCESS' | 'FAILURE';
}

const certsOf = (pems: string[], source: string): CertEntry[] =>
  pems.flatMap((p) => parseBundle(Buffer.from(p), { source }).certs);

/** Our verdict: FAILURE when any check fails (warnings do not count, as in `verify`), or the input does not parse. */
function verdictOf(t: LimboCase): { result: 'SUCCESS' | 'FAILURE'; why: string } {
  try {
    const r = verifyBundle({
      certs: certsOf([t.peer_certificate], 'peer'),
      chain: certsOf(t.untrusted_intermediates, 'intermediates'),
      anchors: certsOf(t.trusted_certs, 'trusted'),
      anchorSource: 'trusted_certs',
      keys: [],
      hosts: t.expected_peer_name ? [t.expected_peer_name.value] : [],
      // Cases without a time are built to be valid "now" (their certificates run to 2969).
      at: t.validation_time ? new Date(t.validation_time) : new Date(),
    });
    // Apple's 825-day lifetime limit is a client policy, outside path validation: limbo's
    // certificates run for centuries by design, so that one lint does not count here.
    const fails = r.checks.filter((c) => c.status === 'fail' && c.id !== 'lint.lifetime');
    return { result: fails.length ? 'FAILURE' : 'SUCCESS', why: fails.map((c) => c.id).join(',') };
  } catch (err) {
    return { result: 'FAILURE', why: `error: ${(err as Error).message}` };
  }
}

const suite = JSON.parse(gunzipSync(readFileSync(path.join(DIR, 'limbo.json.gz'))).toString('utf8')) as {
  testcases: LimboCase[];
};
const cases = suite.testcases.filter((t) => t.validation_kind === 'SERVER');
const listed = JSON.parse(readFileSync(path.join(DIR, 'expected-disagreements.json'), 'utf8')) as Record<
  string,
  string
>;
delete listed._comment;

test('the suite and the disagreement list are the ones this test was written for', () => {
  expect(cases.length).toBeGreaterThanOrEqual(198);
  // Every listed id exists and carries a reason.
  const ids = new Set(cases.map((t) => t.id));
  expect(Object.keys(listed).filter((id) => !ids.has(id))).toEqual([]);
  expect(Object.entries(listed).filter(([, why]) => why.length < 20)).toEqual([]);
});

test('x509-limbo server cases agree except the listed, reasoned disagreements', () => {
  const unexpected: string[] = [];
  const nowAgreeing: string[] = [];
  for (const t of cases) {
    const v = verdictOf(t);
    const agrees = v.result === t.expected_result;
    if (!agrees && !(t.id in listed))
      unexpected.push(`${t.id}: expected ${t.expected_result}, got ${v.result} (${v.why})`);
    if (agrees && t.id in listed) nowAgreeing.push(t.id);
  }
  expect(unexpected).toEqual([]);
  expect(nowAgreeing).toEqual([]);
}, 120000);

// Cases whose expected verdict exercises one specific rule, so a regression names the rule.
test.each([
  ['rfc5280::validity::notafter-fractional', 'SUCCESS'],
  ['rfc5280::nc::nc-forbids-dnsname-wildcard-san', 'FAILURE'],
  ['cve::cve-2025-61727', 'FAILURE'],
  ['webpki::explicit-curve', 'FAILURE'],
  ['online::fastly.com', 'SUCCESS'],
])('%s → %s', (id, expected) => {
  const t = cases.find((c) => c.id === id)!;
  expect(t.expected_result).toBe(expected);
  expect(verdictOf(t).result).toBe(expected);
});
