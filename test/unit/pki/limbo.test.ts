// x509-limbo (Apache-2.0, test/fixtures/x509-limbo/NOTICE): every SERVER case through
// verify's path validation and host check. Disagreements must be listed with a reason.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/run-cli.js';

interface Case { id: string; expected_result: 'SUCCESS' | 'FAILURE' }

test('x509-limbo server cases agree except the listed, reasoned disagreements', async () => {
  const runner = (await import(path.join(ROOT, 'scripts', 'limbo-run.mjs'))) as {
    loadCases(): Case[];
    verdict(t: Case): { result: string; why: string };
  };
  const listed = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/x509-limbo/expected-disagreements.json'), 'utf8')) as Record<string, string>;
  delete listed._comment;
  const cases = runner.loadCases();
  expect(cases.length).toBeGreaterThanOrEqual(198);
  const unexpected: string[] = [];
  const nowAgreeing: string[] = [];
  let agree = 0;
  for (const t of cases) {
    const v = runner.verdict(t);
    const ok = v.result === t.expected_result;
    if (ok) agree++;
    if (!ok && !(t.id in listed)) unexpected.push(`${t.id}: expected ${t.expected_result}, got ${v.result} (${v.why})`);
    if (ok && t.id in listed) nowAgreeing.push(t.id);
  }
  expect(unexpected).toEqual([]);
  expect(nowAgreeing).toEqual([]);
  expect(agree).toBe(cases.length - Object.keys(listed).length);
}, 120000);
