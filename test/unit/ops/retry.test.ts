// Which faults are retried, how often, and which never are.
import { eachRetrying, isTransient, retrying } from '../../../src/ops/retry.js';
import { BusyError, KubectlError, UsageError } from '../../../src/errors.js';

const k = (stderr: string, reason?: string) =>
  new KubectlError('kubectl failed', { verb: 'replace', args: [], stderr, reason });

test.each([
  ['Error from server (InternalError): Internal error occurred: boom', 'InternalError', true],
  ['error: failed to patch: Internal error occurred: sandbox injected fault', undefined, true],
  [
    'Error from server (ServiceUnavailable): the server is currently unable to handle the request',
    'ServiceUnavailable',
    true,
  ],
  ['Error from server (TooManyRequests): slow down', 'TooManyRequests', true],
  ['error: unexpected EOF', undefined, true],
  ['read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer', undefined, true],
  ['(timed out)', 'Timeout', true],
  ['Error from server (Forbidden): secrets "x" is forbidden', 'Forbidden', false],
  ['Error from server (NotFound): secrets "x" not found', 'NotFound', false],
  ['Error from server (AlreadyExists): secrets "x" already exists', 'AlreadyExists', false],
] as const)('%s → transient %s', (stderr, reason, want) => {
  expect(isTransient(k(stderr, reason))).toBe(want);
});

test('a 409 (BusyError) and non-kubectl errors are never retried', () => {
  expect(isTransient(new BusyError('the secret changed'))).toBe(false);
  expect(isTransient(new UsageError('bad flag'))).toBe(false);
  expect(isTransient(new Error('ECONNRESET'))).toBe(false);
});

test('retrying: a transient fault is tried again (3 attempts in all); an answer is not', async () => {
  let calls = 0;
  await expect(
    retrying(
      async () => {
        calls++;
        if (calls < 3) throw k('error: unexpected EOF');
        return 'ok';
      },
      { baseMs: 1 },
    ),
  ).resolves.toBe('ok');
  expect(calls).toBe(3);
  calls = 0;
  await expect(
    retrying(
      async () => {
        calls++;
        throw k('error: unexpected EOF');
      },
      { baseMs: 1 },
    ),
  ).rejects.toThrow('kubectl failed');
  expect(calls).toBe(3);
  calls = 0;
  await expect(
    retrying(
      async () => {
        calls++;
        throw new BusyError('409');
      },
      { baseMs: 1 },
    ),
  ).rejects.toThrow('409');
  expect(calls).toBe(1);
});

test('eachRetrying: only the items a transient fault hit are sent again; a 409 after a fault is checked by recover', async () => {
  const sent: number[][] = [];
  const answers: Record<number, string[]> = {
    0: ['ok'],
    1: ['Error from server (InternalError): boom', 'ok'],
    2: ['error: unexpected EOF', 'Error from server (Conflict): the object has been modified'],
    3: ['Error from server (Forbidden): no'],
  };
  const seen: Record<number, number> = {};
  const results = await eachRetrying(
    async (ix) => {
      sent.push(ix);
      return ix.map((i) => {
        const a = answers[i]![(seen[i] = (seen[i] ?? -1) + 1)]!;
        return a === 'ok' ? { ok: true as const, fields: [String(i)] } : { ok: false as const, error: a };
      });
    },
    4,
    async (i) => (i === 2 ? { ok: true, fields: ['recovered'] } : undefined),
    { baseMs: 1 },
  );
  expect(sent).toEqual([
    [0, 1, 2, 3],
    [1, 2],
  ]);
  expect(results).toEqual([
    { ok: true, fields: ['0'] },
    { ok: true, fields: ['1'] },
    { ok: true, fields: ['recovered'] },
    { ok: false, error: 'Error from server (Forbidden): no' },
  ]);
});
