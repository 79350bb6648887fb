// One transient fault never needs a human: idempotent steps (reads, the fenced replace, the
// restart, the rollback's own reads and writes) are retried a few times with a short backoff.
// Conflicts (409), permission (403) and not-found are answers, not faults: never retried.
import { BusyError, KubectlError } from '../errors.js';

/** 5xx, 429, a dropped or refused connection, a timeout: worth one more try. */
export function isTransient(err: unknown): boolean {
  if (err instanceof BusyError || !(err instanceof KubectlError)) return false;
  if (
    ['Forbidden', 'NotFound', 'AlreadyExists', 'Invalid', 'BadRequest', 'RolloutFailed', 'Conflict'].includes(
      err.reason ?? '',
    )
  )
    return false;
  if (
    ['InternalError', 'ServiceUnavailable', 'ServerTimeout', 'Timeout', 'TooManyRequests', 'Unreachable'].includes(
      err.reason ?? '',
    )
  )
    return true;
  return isTransientText(err.stderr + ' ' + err.message);
}

/** The same judgement on one error line (kubectl's per-item lines for a List). */
export function isTransientText(text: string): boolean {
  if (/\((Conflict|Forbidden|NotFound|AlreadyExists|Invalid|BadRequest)\)/.test(text)) return false;
  return /\b5\d\d\b|InternalError|Internal error occurred|ServiceUnavailable|Service Unavailable|currently unable to handle|TooManyRequests|Too Many Requests|connection reset|unexpected EOF|\bEOF\b|broken pipe|http2: |timed out|i\/o timeout|connection refused|Client\.Timeout|context deadline exceeded/i.test(
    text,
  );
}

type ItemResult = { ok: true; fields: string[] } | { ok: false; error: string };

/**
 * A batched step (one request per item, answered per item) where a transient fault hits some items: those
 * items alone are sent again, twice at most. An item whose retry answers Conflict or
 * AlreadyExists may be our own first write that landed unseen: `recover` decides (by reading it).
 */
export async function eachRetrying(
  send: (items: number[]) => Promise<ItemResult[]>,
  count: number,
  recover: (index: number) => Promise<ItemResult | undefined>,
  opts: { attempts?: number; baseMs?: number } = {},
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(count);
  let todo = [...Array(count).keys()];
  const faulted = new Set<number>();
  for (let attempt = 1; todo.length; attempt++) {
    const got = await send(todo);
    const again: number[] = [];
    for (let j = 0; j < todo.length; j++) {
      const i = todo[j]!;
      const r = got[j]!;
      if (
        !r.ok &&
        faulted.has(i) &&
        /\((Conflict|AlreadyExists)\)|already exists|the object has been modified/.test(r.error)
      ) {
        results[i] = (await recover(i)) ?? r;
      } else if (!r.ok && isTransientText(r.error) && attempt < (opts.attempts ?? 3)) {
        faulted.add(i);
        again.push(i);
      } else results[i] = r;
    }
    todo = again;
    if (todo.length) await new Promise((res) => setTimeout(res, (opts.baseMs ?? 250) * 2 ** (attempt - 1)));
  }
  return results;
}

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  signal?: AbortSignal;
  /** Told before each retry (for a progress line). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/** Run `fn`; on a transient fault wait 250 ms, 500 ms, ... and try again, `attempts` times in all. */
export async function retrying<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !isTransient(err) || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, (opts.baseMs ?? 250) * 2 ** (attempt - 1)));
    }
  }
}
