// Which previous versions are kept: the newest copy of each of the three newest distinct certificates.
import { backupsToPrune, nextBackupSeq } from '../../../src/ops/targets/k8s-secret/plan.js';

const b = (stamp: string, fingerprint?: string) => ({ name: `xsoar-tls-prev-${stamp}`, fingerprint });

test('copies left by failed runs do not push the real history out', () => {
  // original O, then A, then B installed; three failed installs each kept a copy of B; then D.
  const refs = [
    b('20260101000000', 'O'),
    b('20260102000000', 'A'),
    b('20260103000000', 'B'),
    b('20260104000000', 'B'),
    b('20260105000000', 'B'),
    b('20260106000000', 'B'),
  ];
  expect(backupsToPrune(refs).sort()).toEqual([
    'xsoar-tls-prev-20260103000000',
    'xsoar-tls-prev-20260104000000',
    'xsoar-tls-prev-20260105000000',
  ]);
});

test('over three distinct certificates, the oldest go; unknown fingerprints count by name', () => {
  const refs = [
    b('20260101000000', 'unknown'),
    b('20260102000000', 'A'),
    b('20260103000000'),
    b('20260104000000', 'C'),
    b('20260105000000', 'D'),
  ];
  expect(backupsToPrune(refs).sort()).toEqual(['xsoar-tls-prev-20260101000000', 'xsoar-tls-prev-20260102000000']);
  expect(backupsToPrune(refs.slice(2))).toEqual([]);
  // The same name twice (the new backup also listed) is one backup.
  expect(backupsToPrune([b('20260103000000', 'C'), b('20260103000000', 'C')])).toEqual([]);
});

test('two versions kept in the same second are ordered by their sequence, not by their random name tail', () => {
  // Same UTC stamp; the random tails sort the other way round from the order they were made in.
  const s = (tail: string, fingerprint: string, seq?: number) => ({
    name: `xsoar-tls-prev-20260103000000-${tail}`,
    fingerprint,
    seq,
  });
  const refs = [s('zzzz', 'A', 1), s('yyyy', 'B', 2), s('xxxx', 'C', 3), s('aaaa', 'D', 4)];
  expect(backupsToPrune(refs)).toEqual(['xsoar-tls-prev-20260103000000-zzzz']);
  // Versions kept before the sequence existed are older than any with one, and ordered by name among themselves.
  expect(
    backupsToPrune([b('20260101000000', 'O'), b('20260102000000', 'P'), s('zzzz', 'A', 1), s('aaaa', 'B', 2)]),
  ).toEqual(['xsoar-tls-prev-20260101000000']);
  expect(nextBackupSeq([s('a', 'A', 7), b('20260101000000', 'O')])).toBe(8);
  expect(nextBackupSeq([])).toBe(1);
});
