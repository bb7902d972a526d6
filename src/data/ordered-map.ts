/**
 * Applies `fn` to each item with at most `concurrency` calls in flight and yields the results in
 * input order, so a parallel source streams exactly what a sequential one would. Stopping the
 * consumer early stops starting new calls (those in flight finish and are discarded).
 */
export async function* mapOrdered<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): AsyncGenerator<R> {
  const width = Math.max(1, Math.floor(concurrency));
  const inFlight: Array<Promise<R>> = [];
  let started = 0;
  const startNext = (): void => {
    const i = started++;
    const p = fn(items[i]!, i);
    // A rejection is observed when its turn comes; until then keep Node from reporting it as unhandled.
    p.catch(() => undefined);
    inFlight.push(p);
  };
  while (started < items.length && inFlight.length < width) startNext();
  try {
    while (inFlight.length > 0) {
      const result = await inFlight.shift()!;
      if (started < items.length) startNext();
      yield result;
    }
  } finally {
    // On early exit, let the calls in flight settle so no child process outlives the source.
    await Promise.allSettled(inFlight);
  }
}
