/**
 * The client on Kafka (or the in-memory log of `npm start`): spans Avro-encoded onto the spans
 * topic keyed by tree id; control events from only the control partitions this client's trees
 * hash to (a private reader, see README "How a client hears its trips"); every policy of the
 * tenant from the compacted policies topic, for the local pre-checks.
 */
import { partitionForKey } from '../log/partitioner.js';
import type { EventLog, LogMessage, LogProducer, OutgoingMessage, PartitionReader } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { controlEventCodec, SchemaError, spanEventCodec, type SpanEvent } from '../schemas/index.js';
import type { Logger } from '../services/logger.js';
import { createPolicyFeed } from '../services/policy-feed.js';
import type { PolicyBook } from '../streams/policies.js';
import type { Transport, TransportEvents } from './transport.js';

export function createLogTransport(log: EventLog, topics: Topics, tenantId: string, logger: Logger, ownsLog: boolean): Transport<OutgoingMessage> {
  let producer: LogProducer | null = null;
  let reader: PartitionReader | null = null;
  let feed: ReturnType<typeof createPolicyFeed> | null = null;
  let controlPartitions = 0;

  return {
    describe: log.describe,
    reportsContact: log.kind === 'kafka',
    async start(events: TransportEvents, policies: PolicyBook) {
      controlPartitions = await log.partitionCount(topics.control);
      producer = await log.producer();
      reader = log.reader(topics.control, (message: LogMessage) => {
        events.contact();
        if (!message.value) return;
        let event;
        try {
          event = controlEventCodec.decode(message.value);
        } catch (error) {
          if (error instanceof SchemaError) return; // not ours to judge: the processor dead-letters bad input
          throw error;
        }
        if (event.tenantId === tenantId) events.control(event);
      }, { onContact: events.contact });
      await reader.start();
      feed = createPolicyFeed(log, topics.policies, policies, logger);
      await feed.start();
    },
    encode(span: SpanEvent): OutgoingMessage {
      return { key: span.treeId, value: spanEventCodec.encode(span) };
    },
    async send(batch: OutgoingMessage[]) {
      await producer!.send(topics.spans, batch);
    },
    async followTree(treeId: string) {
      await reader!.follow(partitionForKey(treeId, controlPartitions));
    },
    async close() {
      await Promise.allSettled([reader?.stop(), feed?.stop()]);
      await producer?.close();
      if (ownsLog) await log.close();
    },
  };
}
