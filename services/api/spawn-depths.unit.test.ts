import { describe, expect, it } from 'vitest';
import { spawnDepths } from './spawn-depths.js';

const edges = (...pairs: string[]) => pairs.map((pair) => {
  const [source, target] = pair.split('>');
  return { source: source!, target: target! };
});

describe('spawn depths', () => {
  it('given a tree, then roots are 0 and each spawn adds one', () => {
    const depths = spawnDepths(['root', 'a', 'b', 'a1'], edges('root>a', 'root>b', 'a>a1'), 100);
    expect(Object.fromEntries(depths)).toEqual({ root: 0, a: 1, b: 1, a1: 2 });
  });

  it('gives a spawned run whose spans have not arrived (only an edge names it) its depth too', () => {
    expect(spawnDepths(['root'], edges('root>pending'), 100).get('pending')).toBe(1);
  });

  it('given two roots and a run reachable along two paths, then the shorter path counts', () => {
    const depths = spawnDepths(['r1', 'r2', 'x', 'y'], edges('r1>x', 'x>y', 'r2>y'), 100);
    expect(Object.fromEntries(depths)).toEqual({ r1: 0, r2: 0, x: 1, y: 1 });
  });

  it('given a spawn cycle in bad data, then the walk ends and runs only on the cycle get no depth', () => {
    const depths = spawnDepths(['root', 'a', 'b', 'c', 'd'], edges('root>a', 'a>b', 'b>a', 'c>d', 'd>c'), 100);
    expect(Object.fromEntries(depths)).toEqual({ root: 0, a: 1, b: 2 });
  });

  it('stops at maxDepth: exactly at it still has a depth, one deeper has none', () => {
    const chain = Array.from({ length: 5 }, (_, i) => `r${i}`);
    const depths = spawnDepths(chain, edges('r0>r1', 'r1>r2', 'r2>r3', 'r3>r4'), 3);
    expect(depths.get('r3')).toBe(3);
    expect(depths.has('r4')).toBe(false);
  });

  it('walks a chain of 100,000 runs without recursion', () => {
    const runs = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    const chain = runs.slice(1).map((run, i) => ({ source: runs[i]!, target: run }));
    expect(spawnDepths(runs, chain, 1_000_000).get('c99999')).toBe(99_999);
  });
});
