/**
 * Opaque keyset cursors: the position after the last item of a page, base64url JSON. Keyset
 * (not offset) paging stays correct while new runs and spans keep arriving.
 */
import { z } from 'zod';
import { ApiError } from './errors.js';

export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeCursor for the same listing, or answers 400 naming the field. */
export function decodeCursor<T>(cursor: string | undefined, shape: z.ZodType<T>, field = 'query.cursor'): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    return shape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch (error) {
    throw new ApiError('INVALID_REQUEST', `${field}: not a cursor this listing produced; pass back nextCursor unchanged`, { field, cause: error });
  }
}

/** Splits the `limit + 1` rows a query returned into a page and the cursor for the next one. */
export function page<Row, Position extends object>(rows: Row[], limit: number, positionOf: (last: Row) => Position): { items: Row[]; nextCursor: string | null } {
  if (rows.length <= limit) return { items: rows, nextCursor: null };
  const items = rows.slice(0, limit);
  return { items, nextCursor: encodeCursor(positionOf(items[items.length - 1]!)) };
}
