/**
 * Gathers the rows of several Kafka batches (one per partition, handled concurrently) into one
 * ClickHouse insert. ClickHouse pays a fixed price per insert (a part per table and partition,
 * each materialized view run once per block), so one insert of 20,000 rows costs far less than
 * eight of 2,500.
 *
 * Each `add` resolves only once the insert holding its rows has succeeded (and rejects if it
 * failed), so a consumer that commits a batch's offsets after its handler resolved still never
 * commits a row that is not in ClickHouse. Inserts run one at a time, in the order they filled;
 * a group whose linger is over waits for the insert running, growing meanwhile.
 */
export interface CoalescerOptions<T> {
  /** A group reaching this many items is inserted at once. */
  maxItems: number;
  /** How long the first item of a group waits for others before the group is inserted anyway. */
  lingerMs: number;
  /** Inserts one group; `slices` name the log slices it holds (for the dedup token). */
  flush(items: T[], slices: string[]): Promise<void>;
}

export interface Coalescer<T> {
  /** Queues `items` (from the log slice `slice`) and resolves once they are inserted. */
  add(items: readonly T[], slice: string): Promise<void>;
  /** Inserts whatever is waiting now, and resolves once every insert so far has settled. */
  drain(): Promise<void>;
}

interface Group<T> {
  items: T[];
  slices: string[];
  done: Promise<void>;
  settle(error?: unknown): void;
  timer: ReturnType<typeof setTimeout> | null;
}

export function createCoalescer<T>(options: CoalescerOptions<T>): Coalescer<T> {
  if (!(options.maxItems >= 1)) throw new RangeError(`coalescer maxItems must be at least 1, got ${options.maxItems}`);
  if (!(options.lingerMs >= 0)) throw new RangeError(`coalescer lingerMs must be 0 or more, got ${options.lingerMs}`);
  let open: Group<T> | null = null;
  /** The last insert started: the next one waits for it, so inserts never overlap. */
  let previous: Promise<void> = Promise.resolve();

  function newGroup(): Group<T> {
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    // A group's failure reaches its adders; nobody else must see it as unhandled.
    done.catch(() => {});
    return { items: [], slices: [], done, settle, timer: null };
  }

  function close(group: Group<T>): void {
    if (open === group) open = null;
    if (group.timer) clearTimeout(group.timer);
    group.timer = null;
    previous = previous.then(async () => {
      try {
        await options.flush(group.items, group.slices);
        group.settle();
      } catch (error) {
        group.settle(error ?? new Error('insert failed'));
      }
    });
  }

  return {
    add(items, slice) {
      const group = (open ??= newGroup());
      for (const item of items) group.items.push(item);
      group.slices.push(slice);
      if (group.items.length >= options.maxItems) close(group);
      // Lingered long enough: inserted as soon as no insert is running. While one runs, the
      // group keeps growing, so under load inserts go back to back, each taking everything
      // that came meanwhile, rather than queueing one small insert (one more part to merge)
      // per linger period.
      else group.timer ??= setTimeout(() => void previous.then(() => { if (open === group) close(group); }), options.lingerMs);
      return group.done;
    },
    async drain() {
      if (open) close(open);
      await previous;
    },
  };
}
