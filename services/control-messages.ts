/**
 * The messages that carry a ControlEvent to the control topic. Clients read only the control
 * partitions their own trees hash to (client/index.ts), so where an event lands decides who
 * hears it:
 * - run and tree scope: keyed by the tree id, the partition of the tree's spans, the one its
 *   client follows and the processor instance that holds the tree reads;
 * - agent and tenant scope: the runs may be in any tree, so any partition. The event is written
 *   once to every partition, each copy under a key chosen to hash there
 *   (`agent:<tenant>:<agent>#<n>`), all with the same event id: a client applies an event id
 *   once (its breaker board remembers ids), so it acts once whichever copies it reads.
 * Used by the API (operator halts), the agent stage (agent breakers) and the tenant stage.
 *
 * The control topic is a stream: a client reads only what is produced after it follows a
 * partition (client/log-transport.ts), so a tree tripped yesterday, or an agent suspended,
 * would be news to a client started today. Every trip, kill and reset (not warnings) therefore
 * also goes to the compacted breaker-state topic (`standingMessage`), one key per breaker, in
 * the partition of its tenant: compaction keeps the latest event of each, which is all the
 * breaker board needs (the last event of a breaker decides whether it is open), and a client
 * reads its tenant's partition whole when it starts, then follows it. Agent and tenant
 * breakers stand until reset; run and tree breakers until the processor forgets their tree
 * (its summary dropped after a week idle: engine.ts), when it writes their tombstones
 * (`standingTombstones`) and compaction removes them.
 */
import { partitionForKey } from '../log/partitioner.js';
import type { OutgoingMessage } from '../log/port.js';
import { CONTROL_SCOPES, controlEventCodec, type ControlEvent, type ControlScope } from '../schemas/index.js';

/**
 * For each partition 0..partitions-1, the first key `${base}#<n>` that hashes there. Found by
 * counting up: each try lands on a given partition with probability 1/partitions, so this
 * takes about partitions * ln(partitions) tries.
 */
export function keysCoveringPartitions(base: string, partitions: number): string[] {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  const keys: (string | undefined)[] = new Array(partitions).fill(undefined);
  let found = 0;
  for (let n = 0; found < partitions; n++) {
    const key = `${base}#${n}`;
    const partition = partitionForKey(key, partitions);
    if (keys[partition] === undefined) {
      keys[partition] = key;
      found += 1;
    }
  }
  return keys as string[];
}

/** The partition of a tenant's standing breakers. */
export const standingPartition = (tenantId: string, partitions: number): number => partitionForKey(tenantId, partitions);

/** The breaker-state key of a breaker: one record per breaker survives compaction. */
export const standingKey = (scope: ControlScope, tenantId: string, target: string): string => `${scope}:${tenantId}:${target}`;

/**
 * The breaker a standing key names, for a reader that knows the tenant (a client, or the
 * gateway trying each tenant it holds): null when the key is not that tenant's.
 */
export function standingBreaker(key: string, tenantId: string): { scope: ControlScope; target: string } | null {
  for (const scope of CONTROL_SCOPES) {
    const prefix = `${scope}:${tenantId}:`;
    if (key.length > prefix.length && key.startsWith(prefix)) return { scope, target: key.slice(prefix.length) };
  }
  return null;
}

/**
 * The breaker-state record of a trip, kill or reset, for a topic of `partitions` partitions;
 * null for a warning, which opens nothing.
 */
export function standingMessage(event: ControlEvent, partitions: number): OutgoingMessage | null {
  if (event.action === 'warn') return null;
  return { key: standingKey(event.scope, event.tenantId, event.target), value: controlEventCodec.encode(event), partition: standingPartition(event.tenantId, partitions) };
}

/**
 * Tombstones for the run and tree breakers of a tree the processor has forgotten
 * (`breakerKeys` as the engine keys them, `scope:target`): nothing can trip or reset them
 * again, so they need not stand. A key that never stood (a warning only) is a harmless delete.
 */
export function standingTombstones(tenantId: string, breakerKeys: Iterable<string>, partitions: number): OutgoingMessage[] {
  const partition = standingPartition(tenantId, partitions);
  const out: OutgoingMessage[] = [];
  for (const breakerKey of breakerKeys) {
    const colon = breakerKey.indexOf(':');
    out.push({ key: standingKey(breakerKey.slice(0, colon) as ControlScope, tenantId, breakerKey.slice(colon + 1)), value: null, partition });
  }
  return out;
}

/** The messages that publish `event` to a control topic of `partitions` partitions. */
export function controlMessages(event: ControlEvent, partitions: number): { key: string; value: Buffer }[] {
  const value = controlEventCodec.encode(event);
  if (event.scope === 'run' || event.scope === 'tree') return [{ key: event.treeId!, value }];
  return keysCoveringPartitions(`${event.scope}:${event.tenantId}:${event.target}`, partitions).map((key) => ({ key, value }));
}
