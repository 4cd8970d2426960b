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
 * Used by the API (operator halts) and the agent stage (agent breakers).
 */
import { partitionForKey } from '../log/partitioner.js';
import { controlEventCodec, type ControlEvent } from '../schemas/index.js';

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

/** The messages that publish `event` to a control topic of `partitions` partitions. */
export function controlMessages(event: ControlEvent, partitions: number): { key: string; value: Buffer }[] {
  const value = controlEventCodec.encode(event);
  if (event.scope === 'run' || event.scope === 'tree') return [{ key: event.treeId!, value }];
  return keysCoveringPartitions(`${event.scope}:${event.tenantId}:${event.target}`, partitions).map((key) => ({ key, value }));
}
