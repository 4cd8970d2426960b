import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError } from './errors.js';
import { decodeCursor, encodeCursor, page } from './pagination.js';

const shape = z.object({ firstMs: z.number(), runId: z.string() });

describe('keyset pages', () => {
  it('gives a cursor only when the query found one row more than the page', () => {
    expect(page([1, 2, 3], 3, (n) => ({ n }))).toEqual({ items: [1, 2, 3], nextCursor: null });
    const { items, nextCursor } = page([1, 2, 3, 4], 3, (n) => ({ n }));
    expect(items).toEqual([1, 2, 3]);
    expect(JSON.parse(Buffer.from(nextCursor!, 'base64url').toString())).toEqual({ n: 3 });
  });

  it('reads back the cursors it writes', () => {
    const position = { firstMs: 1_700_000_000_000, runId: 'run-é,"x"' };
    expect(decodeCursor(encodeCursor(position), shape)).toEqual(position);
    expect(decodeCursor(undefined, shape)).toBeUndefined();
  });

  it.each(['not base64 json', encodeCursor({ other: 1 }), encodeCursor([1])])('answers 400 on the cursor %j', (cursor) => {
    expect(() => decodeCursor(cursor, shape)).toThrow(ApiError);
    try {
      decodeCursor(cursor, shape);
    } catch (error) {
      expect((error as ApiError).field).toBe('query.cursor');
      expect((error as ApiError).status).toBe(400);
    }
  });
});
