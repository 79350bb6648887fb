// One bounded worker pool for the whole program: probes, fleet runs and anything else that calls
// many endpoints or tenants at once without opening them all together.

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
