/**
 * Calls made in one turn of the event loop, run as one: `run` receives every
 * item gathered until the turn ends and answers one result per item, in the
 * same order. A worker running many tasks finishes several of them per turn;
 * one statement for all of them costs one round trip instead of one each.
 */
export function batchPerTurn<I, O>(
  run: (items: readonly I[]) => Promise<readonly O[]>,
): (item: I) => Promise<O> {
  let batch: { items: I[]; results: Promise<readonly O[]> } | undefined;
  return (item) => {
    if (batch === undefined) {
      const items: I[] = [];
      const results = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        batch = undefined;
        return run(items);
      });
      batch = { items, results };
    }
    const index = batch.items.push(item) - 1;
    return batch.results.then((results) => {
      const result = results[index];
      if (result === undefined) throw new Error("a batched call got no result");
      return result;
    });
  };
}
