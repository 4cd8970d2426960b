/**
 * Operator halts and resets as ControlEvents, and the messages that carry them to the control
 * topic. Pure: the event id and time are inputs.
 *
 * Keys. Clients read only the control partitions their own trees hash to (client/index.ts),
 * so where an event lands decides who hears it:
 * - run and tree scope: keyed by the tree id, the partition of the tree's spans, the one its
 *   client follows and the processor instance that holds the tree reads;
 * - agent scope: an agent's runs may be in any tree, so any partition. The event is written
 *   once to every partition, each copy under a key chosen to hash there
 *   (`agent:<tenant>:<agent>#<n>`), all with the same event id: a client applies an event id
 *   once (its breaker board remembers ids), so it halts once whichever copies it reads.
 */
import { partitionForKey } from '../../../log/partitioner.js';
import { controlEventCodec, controlEventSchema, type ControlEvent } from '../../../schemas/index.js';

export type ControlTarget =
  | { scope: 'run'; runId: string; treeId: string }
  | { scope: 'tree'; treeId: string }
  | { scope: 'agent'; agentId: string };

/** What an operator asked for: halt opens the target's breaker (a kill), reset closes it. */
export type OperatorAction = 'halt' | 'reset';

export interface OperatorCommand {
  eventId: string;
  tenantId: string;
  target: ControlTarget;
  action: OperatorAction;
  /** Why, in the operator's words, and who: shown to the halted agent in RunHalted.reason. */
  message: string;
  timeMs: number;
}

export function operatorControlEvent(command: OperatorCommand): ControlEvent {
  const { target } = command;
  return controlEventSchema.parse({
    eventId: command.eventId,
    tenantId: command.tenantId,
    scope: target.scope,
    target: target.scope === 'run' ? target.runId : target.scope === 'tree' ? target.treeId : target.agentId,
    treeId: target.scope === 'agent' ? null : target.treeId,
    // kill, not trip: a trip is a detector's decision; the engine and clients treat an
    // operator's kill as the same open breaker, and RunHalted tells the agent which it was.
    action: command.action === 'halt' ? 'kill' : 'reset',
    reason: { detector: 'operator', threshold: 0, observed: 0, windowMs: null, message: command.message },
    policyId: null,
    policyVersion: null,
    timeMs: command.timeMs,
  });
}

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
