import type { EventLog, LogMessage, PartitionReader } from '../log/port.js';

/**
 * Follows every partition of a (compacted) topic from the beginning: resolves once everything
 * on it when called has been delivered, then keeps delivering changes. How the processor and
 * the sink hold all policies and all price overrides before they judge or price a span.
 */
export async function followWholeTopic(log: EventLog, topic: string, onMessage: (message: LogMessage) => void): Promise<PartitionReader> {
  const reader = log.reader(topic, onMessage);
  await reader.start();
  const partitions = await log.partitionCount(topic);
  await Promise.all(Array.from({ length: partitions }, (_, p) => reader.follow(p, 'beginning')));
  return reader;
}
