import { describe, expect, it } from 'vitest';
import { createKeyedLock } from './keyed-lock.js';

/** A task that records when it starts and ends, and finishes only when told. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, task: async () => { log.push(`${name} start`); await opened; log.push(`${name} end`); return name; } };
}

describe('keyed lock', () => {
  it('given two tasks of one key, when the first is running, then the second waits for it', async () => {
    const lock = createKeyedLock();
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const results = [lock('k', a.task), lock('k', b.task)];
    await new Promise((ok) => setTimeout(ok, 5));
    expect(log).toEqual(['a start']);
    b.open();
    a.open();
    expect(await Promise.all(results)).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('given tasks of different keys, then they run at once', async () => {
    const lock = createKeyedLock();
    const log: string[] = [];
    const [a, b] = [gate(log, 'a'), gate(log, 'b')];
    const results = [lock('k1', a.task), lock('k2', b.task)];
    await new Promise((ok) => setTimeout(ok, 5));
    expect(log).toEqual(['a start', 'b start']);
    a.open();
    b.open();
    await Promise.all(results);
  });

  it('given a failing task, then its error reaches its caller and the next task of the key still runs', async () => {
    const lock = createKeyedLock();
    const failed = lock('k', async () => { throw new Error('boom'); });
    const next = lock('k', async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
  });
});
