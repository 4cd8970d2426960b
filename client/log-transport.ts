/**
 * The client on Kafka (or the in-memory log of `npm start`): spans Avro-encoded onto the spans
 * topic keyed by tree id; control events from only the control partitions this client's trees
 * hash to (a private reader, see README "How a client hears its trips"); every policy of the
 * tenant from the compacted policies topic, for the local pre-checks.
 *
 * Spans are encoded where they are emitted, straight into the byte chunks they are sent from
 * (encoded-spans.ts); the emitter holds only their sequence numbers. On a Kafka connection of
 * the client's own (`kafka` given), the producer runs on a thread of its own (producer-thread.ts)
 * and batches cross to it as one transferred buffer each: kafkajs's produce path (request
 * encoding, CRC, socket writes) would otherwise stall the agent's event loop by milliseconds
 * per batch. Control events and policies stay on this thread: guard() reads the breaker board
 * synchronously, they are rare and small, and startRun must know that its tree's partition is
 * followed before it returns. An event log handed in by the caller (the in-memory log, or a
 * log the caller shares) cannot move threads: its producer is used here.
 */
import { partitionForKey } from '../log/partitioner.js';
import type { EventLog, LogMessage, LogProducer, PartitionReader } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { controlEventCodec, SchemaError, type SpanEvent } from '../schemas/index.js';
import type { Logger } from '../services/logger.js';
import { createPolicyFeed } from '../services/policy-feed.js';
import type { PolicyBook } from '../streams/policies.js';
import { createEncodedSpans } from './encoded-spans.js';
import { ProducerThread } from './producer-thread.js';
import type { Transport, TransportEvents } from './transport.js';

/** Trees whose spans partition is remembered; forgotten all at once beyond this (bounded memory). */
const PARTITIONS_REMEMBERED = 10_000;

/** The spans are the emitter's by sequence number (see encoded-spans.ts). */
export function createLogTransport(log: EventLog, topics: Topics, tenantId: string, logger: Logger, ownsLog: boolean, kafka?: { brokers: string[]; clientId: string }): Transport<number> {
  let producer: LogProducer | null = null;
  const thread = kafka ? new ProducerThread({ ...kafka, topic: topics.spans }) : null;
  let reader: PartitionReader | null = null;
  let feed: ReturnType<typeof createPolicyFeed> | null = null;
  let controlPartitions = 0;
  let spanPartitions = 0;
  const spans = createEncodedSpans();
  /** A run's spans all share its tree's partition: murmur2 once per tree, not once per span. */
  const partitionOfTree = new Map<string, number>();

  return {
    describe: log.describe,
    reportsContact: log.kind === 'kafka',
    async start(events: TransportEvents, policies: PolicyBook) {
      // The thread connects while this one reads metadata; a failure of either fails the start.
      const producing = thread ? thread.start() : log.producer().then((p) => { producer = p; });
      producing.catch(() => {});
      controlPartitions = await log.partitionCount(topics.control);
      spanPartitions = await log.partitionCount(topics.spans);
      await producing;
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
    encode(span: SpanEvent): number {
      let partition = partitionOfTree.get(span.treeId);
      if (partition === undefined) {
        if (partitionOfTree.size >= PARTITIONS_REMEMBERED) partitionOfTree.clear();
        partition = partitionForKey(span.treeId, spanPartitions);
        partitionOfTree.set(span.treeId, partition);
      }
      return spans.add(span, span.treeId, partition);
    },
    async send(batch: number[]) {
      // The emitter holds nothing older than the batch it sends: what lies below is sent or dropped.
      spans.release(batch[0]!);
      if (thread) await thread.send(spans.pack(batch));
      else await producer!.send(topics.spans, spans.messages(batch));
    },
    async followTree(treeId: string) {
      await reader!.follow(partitionForKey(treeId, controlPartitions));
    },
    async close() {
      await Promise.allSettled([reader?.stop(), feed?.stop(), thread?.close()]);
      await producer?.close();
      if (ownsLog) await log.close();
    },
  };
}
