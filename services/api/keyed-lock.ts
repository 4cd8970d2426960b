/**
 * Runs tasks that share a key one after another, tasks with different keys concurrently. The
 * registry and the policies API read a version and write the next: two concurrent changes of one
 * agent or policy must not both write version N+1 (processors keep the first version N+1 they
 * see and ignore the second). This orders writes within one API process; see README for several.
 */
export type KeyedLock = <T>(key: string, task: () => Promise<T>) => Promise<T>;

export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
