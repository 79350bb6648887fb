// The wizard's path completion: what Tab offers for a partly typed path.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathCandidates } from '../../../src/cli/wizard.js';

const dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-paths-'));
for (const f of ['a.pem', 'a-key.pem', 'b.crt', '.hidden']) writeFileSync(path.join(dir, f), '');
mkdirSync(path.join(dir, 'sub'));
writeFileSync(path.join(dir, 'sub', 'chain.pem'), '');
const names = (term: string | undefined, home = '') => pathCandidates(term, dir, home).map((c) => c.name);

test('nothing typed: the folder, sorted, folders marked with a slash, hidden files left out', () => {
  expect(names(undefined)).toEqual(['a-key.pem', 'a.pem', 'b.crt', 'sub/']);
});

test('a prefix narrows to the entries that start with it', () => {
  expect(names('a.')).toEqual(['a.pem']);
  expect(names('a')).toEqual(['a-key.pem', 'a.pem']);
  expect(names('zzz')).toEqual([]);
});

test('a folder path lists inside it, keeping the typed folder in each name', () => {
  expect(names('sub/')).toEqual(['sub/chain.pem']);
  expect(names('sub/ch')).toEqual(['sub/chain.pem']);
  expect(names(`${dir}/b`)).toEqual([`${dir}/b.crt`]);
});

test('hidden entries only when the typed part starts with a dot; a missing folder offers nothing', () => {
  expect(names('.h')).toEqual(['.hidden']);
  expect(names('no-such-folder/')).toEqual([]);
});

test('~/ is the home folder', () => {
  expect(names('~/su', dir)).toEqual([`${dir}/sub/`]);
});
