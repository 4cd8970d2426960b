/**
 * The gateway's view of breakers, for agents that cannot reach Kafka: it reads every partition
 * of breaker-state from the beginning, where every trip, kill and reset stands (so a restarted
 * gateway knows what is open), and follows every partition of control and control-early from
 * their end, for what happens from then on, sooner (log/topics.ts, `breakerTopics`; control's
 * history would only replay trips that breaker-state may hold as reset already). It applies
 * each event to its tenant's breaker board (the client's own, client/breaker-board.ts: one
 * board per tenant, because agent names are per tenant), lets a breaker go when its standing
 * record is tombstoned (its tree forgotten), and pushes each new event to the SSE subscribers
 * it concerns.
 */
import type { EventLog, LogMessage, PartitionReader } from '../../log/port.js';
import { controlEventCodec, SchemaError, type ControlEvent } from '../../schemas/index.js';
import { createBreakerBoard, createFirstSeen, type BreakerBoard } from '../../client/breaker-board.js';
import type { BreakerTopics } from '../../log/topics.js';
import { standingBreaker } from '../control-messages.js';
import type { Logger } from '../logger.js';
import { createRecentIds } from './recent-ids.js';

export interface BreakerState {
  state: 'closed' | 'open';
  event: ControlEvent | null;
}

export interface ControlSubscriber {
  tenantId: string;
  /** Trees asked for; null: every tree of the tenant. Agent and tenant scope always reach it. */
  trees: ReadonlySet<string> | null;
  send(event: ControlEvent): void;
}

/** Whether `event` belongs on `subscriber`'s stream. Pure, so the filter is tested on its own. */
export function concerns(subscriber: Pick<ControlSubscriber, 'tenantId' | 'trees'>, event: ControlEvent): boolean {
  if (event.tenantId !== subscriber.tenantId) return false;
  if (event.scope === 'agent' || event.scope === 'tenant' || subscriber.trees === null) return true;
  return event.treeId !== null && subscriber.trees.has(event.treeId);
}

/**
 * Memory bounds of a follower that reads every tenant's control events from the beginning:
 * run and tree ids whose owner it remembers (the oldest forgotten first; ownership then comes
 * from ClickHouse), and event ids remembered, for all tenants together, to skip the
 * per-partition copies of agent- and tenant-scope events (client/breaker-board.ts says what a
 * forgotten duplicate does). Open breakers are state, not cache: they are kept until reset.
 */
export interface FollowerBounds {
  owners: number;
  rememberedEvents: number;
}

export const DEFAULT_FOLLOWER_BOUNDS: Readonly<FollowerBounds> = Object.freeze({ owners: 100_000, rememberedEvents: 100_000 });

/**
 * `topics.live`: the control topic, and the control-early topic where trips arrive before their
 * transaction commits (services/processor/early-lane.ts), followed from their end;
 * `topics.standing`: breaker-state, read whole. An event id is applied once.
 */
export function createControlFollower(log: EventLog, topics: BreakerTopics, logger: Logger, bounds: FollowerBounds = DEFAULT_FOLLOWER_BOUNDS) {
  const boards = new Map<string, BreakerBoard>();
  /** Run and tree ids named by each tenant's control events: what the tenant is known to own. */
  const owners = createRecentIds(bounds.owners);
  const firstSeen = createFirstSeen(bounds.rememberedEvents);
  const subscribers = new Set<ControlSubscriber>();
  const readers: PartitionReader[] = [];
  let caughtUp = false;
  let applied = 0;

  function onMessage(message: LogMessage): void {
    if (!message.value) {
      if (message.topic === topics.standing && message.key !== null) release(message.key);
      return;
    }
    let event: ControlEvent;
    try {
      event = controlEventCodec.decode(message.value);
    } catch (error) {
      if (error instanceof SchemaError) return; // the processor dead-letters bad control input; not ours to judge
      throw error;
    }
    let board = boards.get(event.tenantId);
    if (!firstSeen(event.eventId)) return; // agent-scope copies on every partition share one event id
    if (!board) boards.set(event.tenantId, (board = createBreakerBoard({ rememberedEvents: 0 })));
    board.apply(event);
    applied += 1;
    if (event.scope === 'run') owners.rememberId(event.tenantId, event.target);
    if (event.treeId !== null) owners.rememberId(event.tenantId, event.treeId);
    for (const subscriber of subscribers) {
      if (!concerns(subscriber, event)) continue;
      try {
        subscriber.send(event);
      } catch (error) {
        logger.warn('dropping a control stream subscriber that failed', { error: (error as Error).message });
        subscribers.delete(subscriber);
      }
    }
  }

  /** A standing record's tombstone: its tenant is the one whose key prefix it carries. */
  function release(key: string): void {
    for (const [tenantId, board] of boards) {
      const breaker = standingBreaker(key, tenantId);
      if (breaker) board.release(breaker.scope, breaker.target);
    }
  }

  const follow = async (topic: string, from: 'beginning' | 'end') => {
    const reader = log.reader(topic, onMessage);
    readers.push(reader);
    await reader.start();
    const partitions = await log.partitionCount(topic);
    await Promise.all(Array.from({ length: partitions }, (_, p) => reader.follow(p, from)));
  };

  return {
    /** Resolves once every standing breaker has been applied and the live topics are followed. */
    async start(): Promise<void> {
      // Live first: whatever happens while breaker-state is read comes by one road or the other.
      await Promise.all(topics.live.map((topic) => follow(topic, 'end')));
      if (topics.standing) await follow(topics.standing, 'beginning');
      caughtUp = true;
    },
    get caughtUp(): boolean {
      return caughtUp;
    },
    get applied(): number {
      return applied;
    },
    /** The open breaker covering these ids, narrowest scope first (run, tree, agent, tenant). */
    state(tenantId: string, ids: { runId?: string; treeId?: string; agentId?: string }): BreakerState {
      // Empty strings match no target (targets are never empty): an id not given is a scope not asked.
      const open = boards.get(tenantId)?.check({ tenantId, runId: ids.runId ?? '', treeId: ids.treeId ?? '', agentId: ids.agentId ?? '' });
      return open ? { state: 'open', event: open.event } : { state: 'closed', event: null };
    },
    /** The open breakers `subscriber` would be sent events of (its tenant's, its trees'). */
    openFor(subscriber: Pick<ControlSubscriber, 'tenantId' | 'trees'>): ControlEvent[] {
      const board = boards.get(subscriber.tenantId);
      if (!board) return [];
      const events: ControlEvent[] = [];
      for (const breaker of board.openBreakers()) if (concerns(subscriber, breaker.event)) events.push(breaker.event);
      return events;
    },
    /** The tenant whose control events named this run or tree id, if any. */
    ownerOf(id: string): string | undefined {
      return owners.ownerOf(id);
    },
    /** What the follower holds in memory, each within its bound. */
    get memory(): { owners: number; rememberedEvents: number } {
      return { owners: owners.size, rememberedEvents: firstSeen.size };
    },
    subscribe(subscriber: ControlSubscriber): () => void {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    get subscribers(): number {
      return subscribers.size;
    },
    async stop(): Promise<void> {
      subscribers.clear();
      await Promise.allSettled(readers.map((reader) => reader.stop()));
    },
  };
}

export type ControlFollower = ReturnType<typeof createControlFollower>;
