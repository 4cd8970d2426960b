/**
 * Which tenant a run or tree id belongs to, as seen lately (spans this gateway accepted, control
 * events it followed), bounded: the oldest entries go first. It lets an HTTP agent read its run's
 * breaker right after its first span, before the sink has put the run in ClickHouse (where
 * ownership is otherwise looked up, so a forgotten id costs a query, never a wrong answer).
 */
import type { SpanEvent } from '../../schemas/index.js';

export function createRecentIds(capacity: number) {
  const owners = new Map<string, string>();
  function put(id: string, tenantId: string): void {
    if (owners.get(id) === tenantId) return;
    owners.delete(id);
    owners.set(id, tenantId);
    if (owners.size > capacity) owners.delete(owners.keys().next().value!);
  }
  return {
    rememberId(tenantId: string, id: string): void {
      put(id, tenantId);
    },
    remember(tenantId: string, event: SpanEvent): void {
      put(event.runId, tenantId);
      put(event.treeId, tenantId);
    },
    ownerOf(id: string): string | undefined {
      return owners.get(id);
    },
    get size(): number {
      return owners.size;
    },
  };
}

export type RecentIds = ReturnType<typeof createRecentIds>;
