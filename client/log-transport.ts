/**
 * The client on Kafka (or the in-memory log of `npm start`): spans Avro-encoded onto the spans
 * topic keyed by tree id; control events from only the control partitions this client's trees
 * hash to (a private reader, see README "How a client hears its trips"), and the same partitions
 * of the control-early topic, where trips arrive before their transaction commits
 * (services/processor/early-lane.ts); every policy of the
 * tenant from the compacted policies topic, for the local pre-checks; and, at start, the
 * tenant's partition of the compacted breaker-state topic whole: the breakers that stand
 * however long ago they opened (services/control-messages.ts), then what changes there.
 *
 * Spans are encoded where they are emitted, straight into the byte chunks they are sent from
 * (encoded-spans.ts); the emitter holds only their sequence numbers. On a Kafka connection of
 * the client's own (`kafka` given), the Kafka clients run on a thread of its own
 * (producer-thread.ts): batches cross to it as one transferred buffer each, so the produce path
 * (record batch encoding, CRC, socket writes: log/wire/) never runs between the agent's steps;
 * and the control and policies readers (log/wire's fetcher) run there too, since their fetch
 * loop (every 100 ms when idle; a trip returns a fetch at once) would otherwise run between
 * the agent's steps. What they read crosses
 * back and is decoded and applied here, as before: guard() reads the breaker board and the
 * policy book synchronously, and startRun resolves only once the thread's reader follows its
 * tree's partition. An event log handed in by the caller (the in-memory log, or a log the
 * caller shares) cannot move threads: it is used here.
 */
import { partitionForKey } from '../log/partitioner.js';
import type { EventLog, LogMessage, LogProducer, PartitionReader } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { controlEventCodec, SchemaError, type SpanEvent } from '../schemas/index.js';
import type { Logger } from '../services/logger.js';
import { standingBreaker, standingPartition } from '../services/control-messages.js';
import { createPolicyFeed } from '../services/policy-feed.js';
import type { PolicyBook } from '../streams/policies.js';
import { createEncodedSpans } from './encoded-spans.js';
import { ProducerThread } from './producer-thread.js';
import type { Transport, TransportEvents } from './transport.js';

/**
 * How far back a control partition is read by default when this client first follows it, when
 * the breaker-state topic could not be read (services older than this client): a spawned run
 * must hear the trips of the tree it joins. With breaker-state, where every trip, kill and
 * reset stands until its breaker is forgotten, a control partition is followed from its end:
 * what came before is on breaker-state (read whole at start, then followed), and replaying an
 * hour of control history would only bring back trips whose resets compaction may already have
 * ordered before them there.
 */
export const CONTROL_LOOKBACK_MS = 60 * 60_000;

/** Trees whose spans partition is remembered; forgotten all at once beyond this (bounded memory). */
const PARTITIONS_REMEMBERED = 10_000;

/** The spans are the emitter's by sequence number (see encoded-spans.ts). */
export function createLogTransport(log: EventLog, topics: Topics, reading: { tenantId: string; controlLookbackMs: number }, logger: Logger, ownsLog: boolean, kafka?: { brokers: string[]; clientId: string }): Transport<number> {
  const { tenantId } = reading;
  let producer: LogProducer | null = null;
  const thread = kafka ? new ProducerThread({ ...kafka, topic: topics.spans, readerTopics: [topics.control, topics.controlEarly, topics.policies, topics.breakerState] }) : null;
  let reader: PartitionReader | null = null;
  let earlyReader: PartitionReader | null = null;
  let standingReader: PartitionReader | null = null;
  /** Whether breaker-state was read: then a control partition needs no history (see CONTROL_LOOKBACK_MS). */
  let standingRead = false;
  let feed: ReturnType<typeof createPolicyFeed> | null = null;
  let controlPartitions = 0;
  let spanPartitions = 0;
  const spans = createEncodedSpans();
  /** A run's spans all share its tree's partition: murmur2 once per tree, not once per span. */
  const partitionOfTree = new Map<string, number>();

  /** Where the readers and partition counts come from: the thread when there is one (the rest of `log` is not used then). */
  const readers: EventLog = thread ? { ...log, partitionCount: (topic) => thread.partitionCount(topic), reader: (topic, onMessage, options) => thread.reader(topic, onMessage, options) } : log;

  return {
    describe: log.describe,
    reportsContact: log.kind === 'kafka',
    async start(events: TransportEvents, policies: PolicyBook) {
      // The thread connects while this one reads metadata; a failure of either fails the start.
      const producing = thread ? thread.start() : log.producer().then((p) => { producer = p; });
      producing.catch(() => {});
      controlPartitions = await readers.partitionCount(topics.control);
      spanPartitions = await readers.partitionCount(topics.spans);
      await producing;
      const onControl = (message: LogMessage) => {
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
      };
      // Both copies of a trip arrive (the early one first, usually); the board applies an event id once.
      reader = readers.reader(topics.control, onControl, { onContact: events.contact });
      earlyReader = readers.reader(topics.controlEarly, onControl);
      await Promise.all([reader.start(), earlyReader.start()]);
      // Standing breakers, before any run can start: the latest trip, kill or reset of each of
      // the tenant's breakers, then whatever changes while it runs. A tombstone is a run or tree
      // breaker the processor forgot with its tree: the board lets it go.
      const onStanding = (message: LogMessage) => {
        if (message.value) return onControl(message);
        const breaker = message.key === null ? null : standingBreaker(message.key, tenantId);
        if (breaker) events.released?.(breaker.scope, breaker.target);
      };
      try {
        standingReader = readers.reader(topics.breakerState, onStanding);
        await standingReader.start();
        await standingReader.follow(standingPartition(tenantId, await readers.partitionCount(topics.breakerState)), 'beginning');
        standingRead = true;
      } catch (error) {
        // A client upgraded before the services that create the topic: trips still come on the
        // control partitions, read an hour back; only those older go unheard. Say so, go on.
        logger.warn(`standing breakers not read (${topics.breakerState}: ${(error as Error).message}): halts older than controlLookbackMs are not known to this client`);
      }
      feed = createPolicyFeed(readers, topics.policies, policies, logger);
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
      const partition = partitionForKey(treeId, controlPartitions);
      const from = standingRead ? 'end' as const : { sinceMs: Date.now() - reading.controlLookbackMs };
      await Promise.all([reader!.follow(partition, from), earlyReader!.follow(partition, from)]);
    },
    async close() {
      // The readers leave their groups before the thread that runs them ends.
      await Promise.allSettled([reader?.stop(), earlyReader?.stop(), standingReader?.stop(), feed?.stop()]);
      await Promise.allSettled([thread?.close(), producer?.close()]);
      if (ownsLog) await log.close();
    },
  };
}
