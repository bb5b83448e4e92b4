/**
 * Everything a run starts (databases, processes, queue keys, connections) is
 * registered in a scope and released in reverse order when the run ends —
 * also when it fails, and also on Ctrl-C, so a bench run leaves nothing behind.
 */
export class Scope {
  static readonly #open = new Set<Scope>();
  static #stopping = false;
  readonly #closers: Array<() => Promise<void>> = [];

  /** Runs `body` with a fresh scope and always releases it afterwards. */
  static async with<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
    if (Scope.#stopping) throw new Error("the bench is stopping");
    const scope = new Scope();
    Scope.#open.add(scope);
    try {
      return await body(scope);
    } finally {
      await scope.close();
      Scope.#open.delete(scope);
    }
  }

  /**
   * Releases every open scope: what a signal handler calls before exiting.
   * From then on nothing new may be acquired, so a run still unwinding
   * cannot start another process behind the handler's back.
   */
  static async closeAll(): Promise<void> {
    Scope.#stopping = true;
    await Promise.all([...Scope.#open].map((scope) => scope.close()));
  }

  /** Registers how to release something just acquired; returns it for chaining. */
  add<T>(resource: T, close: (resource: T) => Promise<void>): T {
    if (Scope.#stopping) {
      void close(resource).catch(() => {});
      throw new Error("the bench is stopping");
    }
    this.#closers.push(() => close(resource));
    return resource;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (let closer = this.#closers.pop(); closer !== undefined; closer = this.#closers.pop()) {
      try {
        await closer();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, "releasing benchmark resources failed");
    }
  }
}
