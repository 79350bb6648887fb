// Appends read only the log's tail for the previous hash: the same answer as reading it all,
// however long the log or its records, and the chain still verifies.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xsoar-cert-audit-tail-'));
  process.env.XSOAR_CERT_STATE_DIR = dir;
});

const input = (error?: string) => ({
  op: 'install' as const,
  namespace: 'ns',
  secret: 's',
  durationMs: 1,
  result: 'installed' as const,
  newFingerprint: 'AB',
  ...(error ? { error } : {}),
});

test('the tail answer equals the whole-file answer: empty, short, long records, a damaged last line', async () => {
  const { appendAudit, lastHash, readAudit, verifyAudit } = await import('../../../src/audit/log.js');
  const file = path.join(dir, 'audit.jsonl');
  writeFileSync(file, '');
  expect(lastHash(file)).toBe('0'.repeat(64));
  for (let i = 0; i < 300; i++) appendAudit(input());
  const whole = () => readAudit(file).records.at(-1)!.hash;
  expect(lastHash(file)).toBe(whole());
  // Records longer than the first 64 KiB chunk: the tail read grows until it holds a whole line.
  appendAudit(input('x'.repeat(100_000)));
  appendAudit(input('y'.repeat(300_000)));
  expect(lastHash(file)).toBe(whole());
  expect(verifyAudit(file).ok).toBe(true);
  appendFileSync(file, '{"truncated": \n');
  expect(lastHash(file)).toBe('unparseable');
  expect(whole()).toBe('unparseable');
});
