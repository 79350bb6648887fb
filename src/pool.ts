// Working on many items at once, for the whole program: one bounded worker pool (probes, fleet runs
// and anything else that calls many endpoints or tenants without opening them all together), and one
// grouping (tenants by cluster, checks by namespace, a fleet's read by owner).

/** `xs` by `key`, in the order each key first appears (one pass: a fleet has thousands). */
export function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Run `fn` over `items` with at most `n` in flight (in order of start). */
export async function bounded<T>(
  items: readonly T[],
  n: number,
  fn: (x: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}
