import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCoalescer } from './coalescer.js';

afterEach(() => { vi.useRealTimers(); });

/** A flush that records what it was given and can be made to fail or hang. */
function recorder() {
  const flushed: Array<{ items: number[]; slices: string[] }> = [];
  let failNext: Error | null = null;
  return {
    flushed,
    failNextWith(error: Error) { failNext = error; },
    async flush(items: number[], slices: string[]) {
      flushed.push({ items: [...items], slices: [...slices] });
      if (failNext) {
        const error = failNext;
        failNext = null;
        throw error;
      }
    },
  };
}

describe('sink coalescer', () => {
  it('given batches arriving together, when the linger passes, then they go out as one insert naming every slice', async () => {
    vi.useFakeTimers();
    const sink = recorder();
    const coalescer = createCoalescer({ newGroup: () => [] as number[], maxItems: 100, lingerMs: 20, flush: sink.flush });
    const a = coalescer.add([1, 2], 'spans:0:0-1');
    const b = coalescer.add([3], 'spans:1:5-5');
    await vi.advanceTimersByTimeAsync(19);
    expect(sink.flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all([a, b]);
    expect(sink.flushed).toEqual([{ items: [1, 2, 3], slices: ['spans:0:0-1', 'spans:1:5-5'] }]);
  });

  it('given an insert running past the linger, then the batches arriving meanwhile wait for it and go out together, not one insert per linger', async () => {
    vi.useFakeTimers();
    const flushed: number[][] = [];
    const coalescer = createCoalescer({ newGroup: () => [] as number[],
      maxItems: 100, lingerMs: 20,
      flush: async (items) => { flushed.push([...items]); await new Promise((ok) => setTimeout(ok, 100)); }, // a slow insert
    });
    const first = coalescer.add([1], 's1');
    await vi.advanceTimersByTimeAsync(20); // the first insert starts and takes 100 ms
    const later = [coalescer.add([2], 's2')];
    await vi.advanceTimersByTimeAsync(30); // past this group's linger: it waits for the running insert
    later.push(coalescer.add([3], 's3'));
    await vi.advanceTimersByTimeAsync(30);
    later.push(coalescer.add([4], 's4'));
    expect(flushed).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(40); // the first insert ends: everything that came meanwhile goes as one
    expect(flushed).toEqual([[1], [2, 3, 4]]);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([first, ...later]);
  });

  it('given a group reaching maxItems, then it is inserted at once and the next batch starts a new group', async () => {
    vi.useFakeTimers();
    const sink = recorder();
    const coalescer = createCoalescer({ newGroup: () => [] as number[], maxItems: 3, lingerMs: 1_000, flush: sink.flush });
    const full = coalescer.add([1, 2, 3], 's1');
    await full; // no timer needed
    const next = coalescer.add([4], 's2');
    expect(sink.flushed).toEqual([{ items: [1, 2, 3], slices: ['s1'] }]);
    await vi.advanceTimersByTimeAsync(1_000);
    await next;
    expect(sink.flushed[1]).toEqual({ items: [4], slices: ['s2'] });
  });

  it('given a failing insert, then every batch in it is rejected (nothing may be committed) and the next group still goes out', async () => {
    const sink = recorder();
    const coalescer = createCoalescer({ newGroup: () => [] as number[], maxItems: 2, lingerMs: 0, flush: sink.flush });
    sink.failNextWith(new Error('ClickHouse is down'));
    const a = coalescer.add([1], 's1');
    const b = coalescer.add([2], 's2');
    await expect(a).rejects.toThrow('ClickHouse is down');
    await expect(b).rejects.toThrow('ClickHouse is down');
    await expect(coalescer.add([3, 4], 's3')).resolves.toBeUndefined();
    expect(sink.flushed.map((f) => f.items)).toEqual([[1, 2], [3, 4]]);
  });

  it('by default never runs two inserts at once, and keeps the order groups filled in', async () => {
    const started: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const coalescer = createCoalescer({ newGroup: () => [] as number[],
      maxItems: 1, lingerMs: 0,
      async flush(_items, slices) {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        started.push(slices[0]!);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      },
    });
    await Promise.all(['a', 'b', 'c'].map((slice, i) => coalescer.add([i], slice)));
    expect(started).toEqual(['a', 'b', 'c']);
    expect(maxRunning).toBe(1);
  });

  it('given two slots, then two inserts run at once, a third waits for a slot, and they start in the order they filled', async () => {
    vi.useFakeTimers();
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const coalescer = createCoalescer({ newGroup: () => [] as number[],
      maxItems: 1, lingerMs: 0, concurrency: 2,
      flush: (_items, slices) => new Promise<void>((ok) => { started.push(slices[0]!); finish.set(slices[0]!, ok); }),
    });
    const adds = ['a', 'b', 'c'].map((slice, i) => coalescer.add([i], slice));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['a', 'b']);
    finish.get('b')!(); // the later one ends first: its slot goes to the next group
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['a', 'b', 'c']);
    finish.get('a')!();
    finish.get('c')!();
    await Promise.all(adds);
  });

  it('given two slots, a full group takes a free slot at once, a lingered one waits until no insert runs', async () => {
    vi.useFakeTimers();
    const flushed: number[][] = [];
    const coalescer = createCoalescer({
      newGroup: () => [] as number[], maxItems: 2, lingerMs: 10, concurrency: 2,
      flush: async (items) => { flushed.push([...items]); await new Promise((ok) => setTimeout(ok, items.length === 2 ? 100 : 50)); },
    });
    const adds = [coalescer.add([1, 2], 's1')]; // full: the first slot, until 100 ms
    adds.push(coalescer.add([3], 's2'));
    await vi.advanceTimersByTimeAsync(50); // lingered at 10 ms with a slot free: it waits, growing
    expect(flushed).toEqual([[1, 2]]);
    adds.push(coalescer.add([4], 's3')); // now full: the second slot at once
    expect(flushed).toEqual([[1, 2], [3, 4]]);
    adds.push(coalescer.add([5], 's4')); // lingers at 60 ms, both slots busy until 100 and 150 ms
    await vi.advanceTimersByTimeAsync(60);
    expect(flushed).toEqual([[1, 2], [3, 4]]); // one insert still runs
    await vi.advanceTimersByTimeAsync(40);
    expect(flushed).toEqual([[1, 2], [3, 4], [5]]);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(adds);
  });

  it('drain inserts what is waiting without the linger', async () => {
    const sink = recorder();
    const coalescer = createCoalescer({ newGroup: () => [] as number[], maxItems: 100, lingerMs: 60_000, flush: sink.flush });
    const pending = coalescer.add([7], 's');
    await coalescer.drain();
    await pending;
    expect(sink.flushed).toEqual([{ items: [7], slices: ['s'] }]);
  });

  it('refuses settings that would never insert', () => {
    const flush = async () => {};
    expect(() => createCoalescer({ newGroup: () => [], maxItems: 0, lingerMs: 1, flush })).toThrow('maxItems must be at least 1, got 0');
    expect(() => createCoalescer({ newGroup: () => [], maxItems: 1, lingerMs: -1, flush })).toThrow('lingerMs must be 0 or more, got -1');
    expect(() => createCoalescer({ newGroup: () => [], maxItems: 1, lingerMs: 1, concurrency: 0, flush })).toThrow('concurrency must be a whole number of at least 1, got 0');
  });
});
