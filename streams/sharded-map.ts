/**
 * A Map that also knows which shard each key belongs to, so one shard's entries can be walked
 * without touching the others'. The processor's engine holds the trees of every partition it
 * is assigned, and sweeps one partition at a time for idle trees: walking all of them for each
 * partition cost it 5% of its CPU in the processor benchmark. Pure: `shardOf` must give a key the
 * same shard every time (the processor's is the spans partition of the tree id).
 */
export class ShardedMap<V> {
  private readonly all = new Map<string, V>();
  private readonly shards = new Map<number, Map<string, V>>();

  constructor(private readonly shardOf: (key: string) => number) {}

  get size(): number {
    return this.all.size;
  }

  get(key: string): V | undefined {
    return this.all.get(key);
  }

  has(key: string): boolean {
    return this.all.has(key);
  }

  set(key: string, value: V): this {
    this.all.set(key, value);
    const shard = this.shardOf(key);
    let entries = this.shards.get(shard);
    if (!entries) this.shards.set(shard, (entries = new Map()));
    entries.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    if (!this.all.delete(key)) return false;
    const shard = this.shardOf(key);
    const entries = this.shards.get(shard)!;
    entries.delete(key);
    if (entries.size === 0) this.shards.delete(shard);
    return true;
  }

  keys(): IterableIterator<string> {
    return this.all.keys();
  }

  values(): IterableIterator<V> {
    return this.all.values();
  }

  /** The values of one shard (all of them when `shard` is undefined), in insertion order. */
  valuesIn(shard: number | undefined): IterableIterator<V> {
    if (shard === undefined) return this.all.values();
    return (this.shards.get(shard) ?? new Map<string, V>()).values();
  }
}
