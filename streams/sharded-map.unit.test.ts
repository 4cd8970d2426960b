import { describe, expect, it } from 'vitest';
import { ShardedMap } from './sharded-map.js';

describe('ShardedMap', () => {
  const byFirstLetter = (key: string) => key.charCodeAt(0) % 3;

  it('is a map over all keys, and walks one shard on its own', () => {
    const map = new ShardedMap<number>(byFirstLetter);
    for (const [i, key] of ['a1', 'b1', 'c1', 'a2', 'd1'].entries()) map.set(key, i);
    expect(map.size).toBe(5);
    expect(map.get('a2')).toBe(3);
    expect([...map.keys()]).toEqual(['a1', 'b1', 'c1', 'a2', 'd1']);
    expect([...map.valuesIn(byFirstLetter('a'))]).toEqual([0, 3, 4]); // 'a' and 'd' share a shard
    expect([...map.valuesIn(byFirstLetter('b'))]).toEqual([1]);
    expect([...map.valuesIn(undefined)]).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps shards in step through overwrites and deletes', () => {
    const map = new ShardedMap<string>(byFirstLetter);
    map.set('a1', 'x').set('a1', 'y').set('b1', 'z');
    expect([...map.valuesIn(byFirstLetter('a'))]).toEqual(['y']);
    expect(map.delete('a1')).toBe(true);
    expect(map.delete('a1')).toBe(false);
    expect(map.has('a1')).toBe(false);
    expect([...map.valuesIn(byFirstLetter('a'))]).toEqual([]);
    expect([...map.valuesIn(byFirstLetter('b'))]).toEqual(['z']);
    expect([...map.valuesIn(7)]).toEqual([]);
  });
});
