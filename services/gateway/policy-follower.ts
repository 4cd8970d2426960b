/**
 * The gateway's copy of the policies in force, for agents that cannot read the policies topic:
 * it follows the compacted topic from the beginning with the processor's own feed and book
 * (services/policy-feed.ts, streams/policies.ts), so a version the processor refuses is refused
 * here too and the previous one stays served, and keeps per tenant the versions the book holds.
 * A tenant's answer (policy-snapshot.ts) is built once per change and reused by every poll.
 */
import type { EventLog } from '../../log/port.js';
import type { PolicyEvent } from '../../schemas/index.js';
import { createPolicyBook, type PolicyBook } from '../../streams/policies.js';
import type { Logger } from '../logger.js';
import { createPolicyFeed } from '../policy-feed.js';
import { snapshotOf, type PolicySnapshot } from './policy-snapshot.js';

interface TenantPolicies {
  /** Every version the book holds, enabled or not: a disabled one still shadows older versions. */
  held: Map<string, PolicyEvent>;
  snapshot: PolicySnapshot | null;
}

export function createPolicyFollower(log: EventLog, topic: string, logger: Logger) {
  const book = createPolicyBook();
  const tenants = new Map<string, TenantPolicies>();
  const empty = snapshotOf([]);
  let caughtUp = false;

  function tenant(tenantId: string): TenantPolicies {
    let entry = tenants.get(tenantId);
    if (!entry) tenants.set(tenantId, (entry = { held: new Map(), snapshot: null }));
    return entry;
  }

  /** The book, watched: whatever it holds after a message is what the tenant's answer shows. */
  const watched: PolicyBook = Object.create(book) as PolicyBook;
  watched.apply = (policyId, event) => {
    const before = book.held(policyId);
    const result = book.apply(policyId, event);
    const after = book.held(policyId);
    if (before !== after) {
      if (before) {
        const entry = tenant(before.tenantId);
        entry.held.delete(policyId);
        entry.snapshot = null;
        if (entry.held.size === 0) tenants.delete(before.tenantId);
      }
      if (after) {
        const entry = tenant(after.tenantId);
        entry.held.set(policyId, after);
        entry.snapshot = null;
      }
    }
    return result;
  };
  const feed = createPolicyFeed(log, topic, watched, logger);

  return {
    /** Resolves once every policy already on the topic is held; changes keep arriving after. */
    async start(): Promise<void> {
      await feed.start();
      caughtUp = true;
    },
    get caughtUp(): boolean {
      return caughtUp;
    },
    /** The tenant's enabled policies and their version; only ever that tenant's. */
    snapshot(tenantId: string): PolicySnapshot {
      const entry = tenants.get(tenantId);
      if (!entry) return empty;
      entry.snapshot ??= snapshotOf(entry.held.values());
      return entry.snapshot;
    },
    stats: () => ({ ...feed.stats(), tenants: tenants.size, policies: book.size }),
    async stop(): Promise<void> {
      await feed.stop();
    },
  };
}

export type PolicyFollower = ReturnType<typeof createPolicyFollower>;
