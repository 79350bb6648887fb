// Runs the x509-limbo SERVER cases through verify's path validation and host check.
// Used by test/unit/pki/limbo.test.ts and by hand: node scripts/limbo-run.mjs [--list]
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { parseBundle } = await import(path.join(ROOT, 'dist/pki/parse.js'));
const { verifyBundle } = await import(path.join(ROOT, 'dist/pki/verify.js'));

export function loadCases() {
  const data = JSON.parse(
    gunzipSync(readFileSync(path.join(ROOT, 'test/fixtures/x509-limbo/limbo.json.gz'))).toString('utf8'),
  );
  return data.testcases.filter((t) => t.validation_kind === 'SERVER');
}

const bundleOf = (pems, source) => ({
  certs: pems.flatMap((p) => parseBundle(Buffer.from(p), { source }).certs),
  keys: [],
});

/** Our verdict for one case: 'SUCCESS' | 'FAILURE' (a parse error is a FAILURE). */
export function verdict(t) {
  try {
    const leaf = bundleOf([t.peer_certificate], 'peer');
    const chain = bundleOf(t.untrusted_intermediates, 'intermediates');
    const anchors = bundleOf(t.trusted_certs, 'trusted').certs;
    const hosts = t.expected_peer_name ? [t.expected_peer_name.value] : [];
    const r = verifyBundle({
      certs: leaf.certs,
      chain: chain.certs,
      anchors,
      anchorSource: 'trusted_certs',
      keys: [],
      hosts,
      at: t.validation_time ? new Date(t.validation_time) : new Date(),
    });
    // Warnings (398-day rule, expiry soon) do not count; every failure does, as in `verify`.
    const fails = r.checks.filter((c) => c.status === 'fail');
    return { result: fails.length ? 'FAILURE' : 'SUCCESS', why: fails.map((c) => c.id).join(',') };
  } catch (err) {
    return { result: 'FAILURE', why: `error: ${err.message}` };
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cases = loadCases();
  let agree = 0;
  const disagree = [];
  for (const t of cases) {
    const v = verdict(t);
    if (v.result === t.expected_result) agree++;
    else disagree.push({ id: t.id, expected: t.expected_result, ours: v.result, why: v.why, features: t.features });
  }
  console.log(`${agree}/${cases.length} agree`);
  if (process.argv.includes('--list')) console.log(JSON.stringify(disagree, null, 1));
}
