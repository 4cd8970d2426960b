/**
 * What the client knows of open breakers, built from control events alone. Pure and
 * synchronous, so `guard()` answers from memory in microseconds.
 */
import type { ControlEvent, ControlScope } from '../schemas/index.js';

export interface OpenBreaker {
  scope: ControlScope;
  target: string;
  event: ControlEvent;
}

export interface RunIdentity {
  runId: string;
  treeId: string;
  agentId: string;
  tenantId: string;
}

const CHECK_ORDER: ControlScope[] = ['run', 'tree', 'agent', 'tenant'];

/**
 * Event ids remembered to skip duplicates (an agent- or tenant-scope event is copied to every
 * partition, and the copies arrive close together). Bounded, the oldest forgotten first: a
 * duplicate arriving after that many newer events is applied again, which leaves the board as
 * it was (the same trip or reset of the same target) and may repeat it to a stream subscriber.
 */
export const DEFAULT_REMEMBERED_EVENTS = 100_000;

/** A bounded "first time?" test: true once per id among the last `capacity` ids seen. */
export function createFirstSeen(capacity: number) {
  const seen = new Set<string>();
  const firstSeen = (id: string): boolean => {
    if (seen.has(id)) return false;
    seen.add(id);
    if (seen.size > capacity) seen.delete(seen.values().next().value!);
    return true;
  };
  return Object.defineProperty(firstSeen, 'size', { get: () => seen.size }) as typeof firstSeen & { readonly size: number };
}

/** `rememberedEvents: 0` leaves deduplication to the caller (the gateway's one set for every tenant). */
export function createBreakerBoard(options: { rememberedEvents?: number } = {}) {
  const open = new Map<string, OpenBreaker>();
  /**
   * Agent and tenant breakers: the time of the event that last set each. Events reach a client
   * by two roads, the breaker-state topic read whole at start and the control partitions. The
   * client follows the latter from their end when it has the former (client/log-transport.ts),
   * so both carry a breaker's events in one order; a caller that also fed control history (an
   * hour back, say) would replay a trip whose reset compaction has left alone on breaker-state,
   * and this keeps that trip from reopening an agent or tenant breaker. A board is one
   * tenant's: a handful of agents, small.
   */
  const setAt = new Map<string, number>();
  const remembered = options.rememberedEvents ?? DEFAULT_REMEMBERED_EVENTS;
  const firstSeen = remembered > 0 ? createFirstSeen(remembered) : () => true;

  return {
    /** Applies a control event; returns false for one already applied (a replayed trip), or one older than what last set its agent or tenant breaker. */
    apply(event: ControlEvent): boolean {
      if (!firstSeen(event.eventId)) return false;
      const key = `${event.scope}:${event.target}`;
      if ((event.scope === 'agent' || event.scope === 'tenant') && event.action !== 'warn') {
        const last = setAt.get(key);
        if (last !== undefined && event.timeMs < last) return false;
        setAt.set(key, event.timeMs);
      }
      if (event.action === 'trip' || event.action === 'kill') open.set(key, { scope: event.scope, target: event.target, event });
      else if (event.action === 'reset') open.delete(key);
      return true;
    },
    /**
     * Lets a breaker go whatever its state: the processor forgot its tree (a week idle), and
     * the tombstone of its standing record says so. Only memory is at stake: no run of a tree
     * forgotten that long is still asking.
     */
    release(scope: ControlScope, target: string): void {
      open.delete(`${scope}:${target}`);
      setAt.delete(`${scope}:${target}`);
    },
    /** Every open breaker held. */
    openBreakers(): IterableIterator<OpenBreaker> {
      return open.values();
    },
    /**
     * Closes every open breaker `keep` refuses: a client told the whole set of open breakers
     * (the gateway's, when its control stream reconnects) drops those reset while it was away.
     */
    retain(keep: (breaker: OpenBreaker) => boolean): void {
      for (const [key, breaker] of open) if (!keep(breaker)) open.delete(key);
    },
    /** Open breakers held, of any run: zero lets guard() skip the lookups. */
    get size(): number {
      return open.size;
    },
    /** The open breaker covering this run, narrowest scope first; undefined when all are closed. */
    check(run: RunIdentity): OpenBreaker | undefined {
      if (open.size === 0) return undefined;
      for (const scope of CHECK_ORDER) {
        const target = scope === 'run' ? run.runId : scope === 'tree' ? run.treeId : scope === 'agent' ? run.agentId : run.tenantId;
        const breaker = open.get(`${scope}:${target}`);
        if (breaker && breaker.event.tenantId === run.tenantId) return breaker;
      }
      return undefined;
    },
  };
}

export type BreakerBoard = ReturnType<typeof createBreakerBoard>;
