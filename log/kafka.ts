/**
 * The event log on a real Kafka cluster: sends, transactions, group consumers' fetching and
 * partition readers through Fusebox's own Kafka client (wire/: a quarter of kafkajs's CPU per
 * message produced); kafkajs for group membership and admin, and for everything on request
 * (`producer: 'kafkajs'`, `fetcher: 'kafkajs'`).
 *
 * Control-path latency matters more than fetch efficiency here: consumers fetch with
 * `minBytes: 1` and a short `maxWaitTimeInMs`, so a trip reaches agents in milliseconds rather
 * than kafkajs's default 5 s wait.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type ConsumerRunConfig, type Producer, type LogEntry } from './kafkajs.js';
import { CoPartitionedAssigner } from './co-partitioned-assigner.js';
import { partitionForKey } from './partitioner.js';
import { createWireFetcher } from './wire/fetcher.js';
import { createWireProducer } from './wire/producer.js';
import { createWireTransactionalProducer } from './wire/transactional-producer.js';
import { CommitOutcomeUnknown, type EventLog, type FollowFrom, type LogBatch, type TopicPartitions, type GroupConsumer, type GroupConsumerOptions, type LogMessage, type LogProducer, type OutgoingMessage, type PartitionLag, type PartitionReader, type ReaderOptions, type TopicSpec, type Transaction, type TransactionalProducer } from './port.js';

export interface KafkaLogOptions {
  brokers: string[];
  clientId?: string;
  /** Longest a group consumer's fetch waits for data. Short keeps trips fast; longer saves broker requests. */
  maxWaitTimeInMs?: number;
  /**
   * The same for partition readers (default: as `maxWaitTimeInMs`). A fetch returns as soon as
   * data arrives (minBytes 1), so this bounds only how often an idle reader asks and how long a
   * newly followed partition can wait behind a fetch already in flight. The agent client sets
   * 100: its three readers at 25 cost a fifth of its Kafka thread's CPU.
   */
  readerMaxWaitTimeInMs?: number;
  /** kafkajs's own log lines at or above this level go to `log`. Default: errors only. */
  logLevel?: 'error' | 'warn' | 'info';
  log?: (line: string) => void;
  /**
   * Topics whose partition readers share one kafkajs consumer (one fetch loop, one heartbeat),
   * given up front since a kafkajs consumer subscribes once. The client's Kafka thread names its
   * control, control-early and policies topics. Readers of other topics get a consumer each.
   */
  sharedReaderTopics?: string[];
  /**
   * What sends plain (non-transactional) messages: 'wire', Fusebox's own producer (default), or
   * 'kafkajs', its idempotent producer, kept to compare against (bench) and as a way back.
   */
  producer?: 'wire' | 'kafkajs';
  /**
   * What fetches for group consumers: 'wire', Fusebox's own fetcher (default; wire/fetcher.ts,
   * while a kafkajs consumer holds the group membership with its partitions paused), or
   * 'kafkajs', its own fetching, kept to compare against and as a way back.
   */
  fetcher?: 'wire' | 'kafkajs';
}

const LEVELS = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO } as const;

export function createKafkaLog(options: KafkaLogOptions): EventLog {
  const log = options.log ?? ((line: string) => console.error(line));
  const kafka = new Kafka({
    clientId: options.clientId ?? 'fusebox',
    brokers: options.brokers,
    logLevel: LEVELS[options.logLevel ?? 'error'],
    logCreator: () => ({ namespace, level, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      log(`[kafkajs ${logLevel[level] ?? level}] ${namespace}: ${message} ${JSON.stringify(extra)}`);
    },
    retry: { initialRetryTime: 100, retries: 8 },
  });
  const maxWaitTimeInMs = options.maxWaitTimeInMs ?? 25;
  const readerMaxWaitTimeInMs = options.readerMaxWaitTimeInMs ?? maxWaitTimeInMs;
  const partitionCounts = new Map<string, number>();
  let admin: Admin | null = null;
  const closers = new Set<() => Promise<void>>();

  async function getAdmin(): Promise<Admin> {
    if (!admin) {
      const created = kafka.admin();
      await created.connect();
      admin = created;
    }
    return admin;
  }

  async function partitionCount(topic: string): Promise<number> {
    const known = partitionCounts.get(topic);
    if (known !== undefined) return known;
    const metadata = await (await getAdmin()).fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new Error(`topic '${topic}' has no partitions on ${options.brokers.join(',')}: create it with ensureTopics first`);
    partitionCounts.set(topic, count);
    return count;
  }

  /** Registers `close` with the log, then `start`s: one that fails is closed again and throws. */
  async function opened(close: () => Promise<void>, start: () => Promise<void>): Promise<void> {
    closers.add(close);
    try {
      await start();
    } catch (error) {
      closers.delete(close);
      await close();
      throw error;
    }
  }

  /** Connects at once (as kafkajs's connect() does), so a broker that is not there fails here. */
  async function wireProducer(): Promise<LogProducer> {
    const producer = createWireProducer({ brokers: options.brokers, clientId: options.clientId ?? 'fusebox' });
    const close = () => producer.close();
    await opened(close, () => producer.connect());
    return {
      async send(topic, messages) {
        if (messages.length === 0) return;
        // The producer's own metadata (cached) says how many partitions the keys hash over.
        const partitions = messages.some((m) => m.partition === undefined) ? await producer.partitionCount(topic) : 0;
        await producer.send(topic, routed(messages, partitions));
      },
      async close() {
        closers.delete(close);
        await close();
      },
    };
  }

  async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const [committed] = await retrying(async () => (await getAdmin()).fetchOffsets({ groupId, topics: [topic] }));
    return new Map((committed?.partitions ?? []).filter((p) => BigInt(p.offset) >= 0n).map((p) => [p.partition, BigInt(p.offset)]));
  }

  function groupConsumerOf(consumerOptions: GroupConsumerOptions): Consumer {
    return kafka.consumer({
      groupId: consumerOptions.groupId, maxWaitTimeInMs: consumerOptions.fetch?.maxWaitTimeInMs ?? maxWaitTimeInMs, minBytes: consumerOptions.fetch?.minBytes ?? 1,
      allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000,
      ...(consumerOptions.coPartitioned ? { partitionAssigners: [CoPartitionedAssigner] } : {}),
    });
  }

  /**
   * A group consumer whose records come through Fusebox's own fetcher. The kafkajs consumer
   * joins the group, heartbeats and commits offsets, with every partition paused (kafkajs then
   * only heartbeats, about once a second); on each join the fetcher is handed the assignment:
   * partitions kept go on from where they were, new ones start at the group's committed offset
   * (or the earliest / latest without one), revoked ones stop. While kafkajs rejoins (a
   * rebalance, a restart after a crash) the fetcher holds every partition, as kafkajs's own
   * fetching would stop. A zombie that kept fetching meanwhile could only waste work: the
   * processor's transactions are fenced by the next owner, and plain consumers' commits are
   * refused by the coordinator once the generation moved on.
   */
  function wireGroupConsumer(consumerOptions: GroupConsumerOptions): GroupConsumer {
    const consumer = groupConsumerOf(consumerOptions);
    const commitAfterHandler = (consumerOptions.commit ?? 'after-handler') === 'after-handler';
    const fetcher = createWireFetcher({
      brokers: options.brokers,
      clientId: options.clientId ?? 'fusebox',
      maxWaitMs: consumerOptions.fetch?.maxWaitTimeInMs ?? maxWaitTimeInMs,
      minBytes: consumerOptions.fetch?.minBytes ?? 1,
      concurrency: consumerOptions.concurrency ?? 1,
      resetTo: consumerOptions.fromBeginning ? 'earliest' : 'latest',
      log,
      async onBatch(batch: LogBatch) {
        await consumerOptions.handleBatch(batch);
        if (commitAfterHandler) await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.messages.at(-1)!.offset) + 1n).toString() }]);
      },
      onHandlerError(error, batch) {
        log(`[fusebox] consumer ${consumerOptions.groupId}: handling a batch of partition ${batch.partition} of '${batch.topic}' failed (${error.message}); it is handled again after a backoff`);
        consumerOptions.onCrash?.(error);
      },
    });
    const running = keepRunning(consumer, log, consumerOptions.groupId, consumerOptions.onCrash);
    const close = async () => {
      await fetcher.stop();
      await running.stop();
    };
    const pauseInKafkajs = () => consumer.pause(consumerOptions.topics.map((topic) => ({ topic })));
    /** Bumped at every join: an older join's offset lookups must not assign anything. */
    let generation = 0;

    async function assign(assignment: TopicPartitions[], joined: number): Promise<void> {
      const wanted = new Set(assignment.flatMap(({ topic, partitions }) => partitions.map((p) => `${topic}\u0000${p}`)));
      for (const { topic, partition } of fetcher.assigned()) if (!wanted.has(`${topic}\u0000${partition}`)) fetcher.revoke(topic, partition);
      consumerOptions.onAssignment?.(assignment);
      for (const { topic, partitions } of assignment) {
        const fresh = partitions.filter((p) => !fetcher.has(topic, p));
        for (const partition of partitions) fetcher.resume(topic, partition); // kept: goes on from where it was
        if (fresh.length === 0) continue;
        const committed = await committedOffsets(consumerOptions.groupId, topic);
        for (const partition of fresh) {
          const start = committed.get(partition) ?? await retrying(() => fetcher.offsetAt(topic, partition, consumerOptions.fromBeginning ? 'earliest' : 'latest'));
          if (generation !== joined) return;
          fetcher.assign(topic, partition, start);
        }
      }
    }

    return {
      async start() {
        closers.add(close);
        await fetcher.start();
        await consumer.connect();
        await consumer.subscribe({ topics: consumerOptions.topics, fromBeginning: consumerOptions.fromBeginning });
        const joined = onceJoined(consumer);
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          pauseInKafkajs(); // a rejoin builds a fresh subscription state
          const assignment = Object.entries(event.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions: partitions as number[] }));
          const mine = ++generation;
          assign(assignment, mine).catch((error: Error) => {
            log(`[fusebox] consumer ${consumerOptions.groupId}: could not start its partitions (${error.message}); it rejoins`);
            consumerOptions.onCrash?.(error);
          });
        });
        for (const event of [consumer.events.REBALANCING, consumer.events.CRASH]) consumer.on(event, () => fetcher.pauseAll());
        // kafkajs delivers nothing (every partition is paused before its first fetch); should a
        // batch slip through, it is left unresolved and uncommitted.
        const consuming = running.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
        pauseInKafkajs(); // run() has created the group synchronously: pause before the first fetch
        await consuming;
        await joined;
      },
      async stop() {
        closers.delete(close);
        await close();
      },
      lag: () => fetcher.lag(),
      seek: (topic, partition, offset) => fetcher.seek(topic, partition, offset),
      commit: (offsets) => consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))),
    };
  }

  /**
   * A transaction on the port from a client's own: messages routed to their partitions (the
   * partition count asked only when a key must be hashed), empty topics left out, and a failed
   * commit reported as of unknown outcome (the caller must not publish the same outputs again).
   */
  function transaction(send: (entries: Array<[string, Array<OutgoingMessage & { partition: number }>]>) => Promise<void>, commit: () => Promise<void>, abort: () => Promise<void>): Transaction {
    const sendBatch = async (entries: Array<[string, OutgoingMessage[]]>) => {
      const byTopic: Array<[string, Array<OutgoingMessage & { partition: number }>]> = [];
      for (const [topic, messages] of entries) {
        if (messages.length === 0) continue;
        const partitions = messages.some((m) => m.partition === undefined) ? await partitionCount(topic) : 0;
        byTopic.push([topic, routed(messages, partitions)]);
      }
      if (byTopic.length > 0) await send(byTopic);
    };
    return {
      send: (topic, messages) => sendBatch([[topic, messages]]),
      sendBatch,
      async commit() {
        try {
          await commit();
        } catch (cause) {
          throw new CommitOutcomeUnknown({ cause });
        }
      },
      abort,
    };
  }

  /** Fusebox's own transactional producer (wire/transactional-producer.ts). */
  async function wireTransactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const producer = createWireTransactionalProducer({ brokers: options.brokers, clientId: options.clientId ?? 'fusebox', transactionalId });
    const close = () => producer.close();
    // Now, not at the first transaction: creating this producer fences an older one with the
    // same id and aborts whatever it left open.
    await opened(close, () => producer.init());
    return {
      async begin(): Promise<Transaction> {
        const txn = await producer.begin();
        return transaction((entries) => txn.send(entries), () => txn.commit(), () => txn.abort());
      },
      async close() {
        closers.delete(close);
        await close();
      },
    };
  }

  /**
   * Partition readers on Fusebox's fetcher: no consumer group at all (a reader picks its own
   * partitions and positions), one fetcher (one connection per broker) for the topics it serves.
   * Following a partition asks its leader for the start (the earliest offset, or the last stable
   * one: under read_committed nothing past it can be read yet) and hands it to the fetcher; from
   * 'beginning', follow() resolves once the fetcher has handled everything before the end it saw.
   * A broker outage needs nothing here: the fetcher keeps its positions and retries. Contact is
   * every fetch answer (at least every `readerMaxWaitTimeInMs` while partitions are followed),
   * passed on at most every 250 ms, or a metadata answer each second while none is followed.
   */
  function wireReaderGroup(topics: readonly string[]) {
    interface TopicReader {
      onMessage: ((message: LogMessage) => void) | null;
      onContact?: () => void;
      followed: Set<number>;
      /** Per partition, everything before this offset was delivered (or was no record: markers). */
      reached: Map<number, bigint>;
      waiters: Array<{ partition: number; target: bigint; done: () => void }>;
    }
    const byTopic = new Map<string, TopicReader>(topics.map((topic) => [topic, { onMessage: null, followed: new Set(), reached: new Map(), waiters: [] }]));
    const settle = (state: TopicReader) => {
      for (let i = state.waiters.length - 1; i >= 0; i--) {
        const w = state.waiters[i]!;
        if ((state.reached.get(w.partition) ?? -1n) >= w.target) {
          state.waiters.splice(i, 1);
          w.done();
        }
      }
    };
    let lastContact = 0;
    const contact = () => {
      const now = Date.now();
      if (now - lastContact < 250) return;
      lastContact = now;
      for (const state of byTopic.values()) state.onContact?.();
    };
    const fetcher = createWireFetcher({
      brokers: options.brokers,
      clientId: options.clientId ?? 'fusebox',
      maxWaitMs: readerMaxWaitTimeInMs,
      log,
      onBatch(batch) {
        const state = byTopic.get(batch.topic);
        if (!state?.onMessage || !state.followed.has(batch.partition)) return;
        for (const message of batch.messages) state.onMessage(message);
      },
      onHandlerError: (error, batch) => log(`[fusebox] reader of '${batch.topic}': a message handler threw (${error.message}); the batch is delivered again`),
      onProgress(topic, partition, offset) {
        const state = byTopic.get(topic);
        if (!state) return;
        state.reached.set(partition, offset);
        settle(state);
      },
      onResponse: contact,
    });
    let starting: Promise<void> | null = null;
    let started = 0;
    let pinger: NodeJS.Timeout | null = null;
    const close = async () => {
      starting = null;
      if (pinger) clearInterval(pinger);
      pinger = null;
      await fetcher.stop();
    };
    async function start(): Promise<void> {
      closers.add(close);
      await fetcher.start();
      pinger = setInterval(() => {
        if (Date.now() - lastContact < 1_000 || ![...byTopic.values()].some((s) => s.onContact)) return;
        fetcher.ping().then(contact, () => {});
      }, 1_000);
      pinger.unref();
    }
    return {
      reader(topic: string, onMessage: (message: LogMessage) => void, readerOptions: ReaderOptions): PartitionReader {
        const state = byTopic.get(topic)!;
        return {
          async start() {
            state.onMessage = onMessage;
            state.onContact = readerOptions.onContact;
            started += 1;
            starting ??= start().catch((error: Error) => {
              starting = null; // the next start() tries again
              throw error;
            });
            await starting;
          },
          async follow(partition: number, from: FollowFrom = 'end') {
            if (state.followed.has(partition)) return;
            const end = await retrying(() => fetcher.offsetAt(topic, partition, 'latest'));
            const since = typeof from === 'object' ? await retrying(() => fetcher.offsetAt(topic, partition, from.sinceMs)) : null;
            // No record since then: the offset is -1, and the end is where to start.
            const at = from === 'end' ? end : from === 'beginning' ? await retrying(() => fetcher.offsetAt(topic, partition, 'earliest')) : since! < 0n ? end : since!;
            state.followed.add(partition);
            state.reached.delete(partition);
            fetcher.assign(topic, partition, at);
            if (from === 'end' || end <= at) return;
            await new Promise<void>((done) => {
              state.waiters.push({ partition, target: end, done });
              settle(state);
            });
          },
          unfollow(partition: number) {
            state.followed.delete(partition);
            state.reached.delete(partition);
            fetcher.revoke(topic, partition);
          },
          async stop() {
            state.onMessage = null;
            state.onContact = undefined;
            for (const partition of state.followed) fetcher.revoke(topic, partition);
            state.followed.clear();
            started -= 1;
            if (started > 0) return;
            closers.delete(close);
            await close();
          },
        };
      },
    };
  }

  let sharedReaders: ReturnType<typeof readerGroup> | ReturnType<typeof wireReaderGroup> | null = null;

  /**
   * One kafkajs consumer reading `topics` for partition readers: a private group of one, so the
   * default assigner gives it every partition, all paused until a reader follows one. No offsets
   * are ever committed, so the group vanishes when it stops. Several topics share it when the
   * log is told them up front (`sharedReaderTopics`): one fetch loop and one heartbeat instead of
   * one per topic (an idle kafkajs consumer costs about 1.3% of a core on this box).
   */
  function readerGroup(topics: readonly string[]) {
    const consumer: Consumer = kafka.consumer({ groupId: `fusebox-reader-${randomUUID()}`, maxWaitTimeInMs: readerMaxWaitTimeInMs, minBytes: 1, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    interface TopicReader {
      onMessage: ((message: LogMessage) => void) | null;
      onContact?: () => void;
      followed: Set<number>;
      /** Next offset to deliver per partition, as far as kafkajs reported it. */
      reached: Map<number, bigint>;
      /** Where each followed partition was first sought to (its end or beginning). */
      followedFrom: Map<number, bigint>;
      waiters: Array<{ partition: number; target: bigint; done: () => void }>;
    }
    const byTopic = new Map<string, TopicReader>(topics.map((topic) => [topic, { onMessage: null, followed: new Set(), reached: new Map(), followedFrom: new Map(), waiters: [] }]));
    const settle = (state: TopicReader) => {
      for (let i = state.waiters.length - 1; i >= 0; i--) {
        const w = state.waiters[i]!;
        if ((state.reached.get(w.partition) ?? -1n) >= w.target) {
          state.waiters.splice(i, 1);
          w.done();
        }
      }
    };
    const applyPauses = () => {
      consumer.pause(topics.map((topic) => ({ topic })));
      for (const [topic, state] of byTopic) if (state.followed.size > 0) consumer.resume([{ topic, partitions: [...state.followed] }]);
    };
    // The group commits nothing, so a consumer that rejoins (a restart after a broker outage)
    // would start each partition at its end and miss what arrived meanwhile: go on from the
    // last delivery instead.
    const resumePositions = () => {
      for (const [topic, state] of byTopic) {
        for (const partition of state.followed) {
          const at = state.reached.get(partition) ?? state.followedFrom.get(partition);
          if (at !== undefined) consumer.seek({ topic, partition, offset: at.toString() });
        }
      }
    };
    const running = keepRunning(consumer, log, `reader of ${topics.join(', ')}`);
    let starting: Promise<void> | null = null;
    let started = 0;
    const close = async () => {
      starting = null;
      await running.stop();
    };

    async function start(): Promise<void> {
      closers.add(close);
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: false });
      const joined = onceJoined(consumer);
      // After a rejoin kafkajs builds a fresh subscription state: pause again.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        applyPauses();
        resumePositions();
      });
      // Heartbeats are emitted only after the coordinator answered, about every second even
      // with every partition paused (kafkajs heartbeats when a fetch returns nothing).
      for (const event of [consumer.events.HEARTBEAT, consumer.events.GROUP_JOIN]) {
        consumer.on(event, () => {
          for (const state of byTopic.values()) state.onContact?.();
        });
      }
      // Emitted for every batch, including batches of transaction markers only, which is how
      // "caught up" is known even when the partition ends in a commit marker.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const state = byTopic.get(payload.topic);
        if (!state) return;
        const next = BigInt(payload.lastOffset) + 1n;
        if (next > (state.reached.get(payload.partition) ?? -1n)) state.reached.set(payload.partition, next);
        settle(state);
      });
      const consuming = running.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const state = byTopic.get(topic);
          if (state?.onMessage && state.followed.has(partition)) state.onMessage(toLogMessage(topic, partition, message));
        },
      });
      applyPauses(); // run() has created the group synchronously: pause before the first fetch
      await consuming;
      await joined;
    }

    return {
      reader(topic: string, onMessage: (message: LogMessage) => void, readerOptions: ReaderOptions): PartitionReader {
        const state = byTopic.get(topic)!;
        return {
          async start() {
            state.onMessage = onMessage;
            state.onContact = readerOptions.onContact;
            started += 1;
            starting ??= start();
            await starting;
          },
          async follow(partition: number, from: FollowFrom = 'end') {
            if (state.followed.has(partition)) return;
            const offsets = await retrying(async () => (await getAdmin()).fetchTopicOffsets(topic));
            const bounds = offsets.find((o) => o.partition === partition);
            if (!bounds) throw new Error(`topic '${topic}' has no partition ${partition}`);
            let start = from === 'end' ? bounds.high : bounds.low;
            if (typeof from === 'object') {
              const found = (await retrying(async () => (await getAdmin()).fetchTopicOffsetsByTimestamp(topic, from.sinceMs))).find((o) => o.partition === partition);
              start = found && BigInt(found.offset) >= 0n ? found.offset : bounds.high;
            }
            state.followed.add(partition);
            state.reached.delete(partition);
            state.followedFrom.set(partition, BigInt(start));
            consumer.seek({ topic, partition, offset: start });
            consumer.resume([{ topic, partitions: [partition] }]);
            const target = BigInt(bounds.high);
            if (from === 'end' || target <= BigInt(start)) return;
            await new Promise<void>((done) => {
              state.waiters.push({ partition, target, done });
              settle(state);
            });
          },
          unfollow(partition: number) {
            state.followed.delete(partition);
            state.followedFrom.delete(partition);
            consumer.pause([{ topic, partitions: [partition] }]);
          },
          async stop() {
            // The consumer stops with its last reader; the others' partitions go on meanwhile.
            state.onMessage = null;
            state.onContact = undefined;
            const mine = [...state.followed];
            state.followed.clear();
            started -= 1;
            if (started > 0) {
              try {
                if (mine.length > 0) consumer.pause([{ topic, partitions: mine }]);
              } catch {
                // Not running (restarting after a crash): its rejoin pauses every partition no reader follows.
              }
              return;
            }
            closers.delete(close);
            await close();
          },
        };
      },
    };
  }

  return {
    kind: 'kafka',
    describe: `Kafka at ${options.brokers.join(',')}`,
    async ensureTopics(specs: TopicSpec[]) {
      const client = await getAdmin();
      const existing = new Set(await client.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length > 0) {
        await client.createTopics({
          // kafkajs's own wait retries only LEADER_NOT_AVAILABLE, while a KRaft broker may
          // briefly answer UNKNOWN_TOPIC_OR_PARTITION for a topic it just created: wait below.
          waitForLeaders: false,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: -1, // the broker's default.replication.factor
            configEntries: [
              ...(s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
              ...(s.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(s.retentionMs) }] : []),
            ],
          })),
        });
      }
      await waitForLeaders(client, specs.map((s) => s.topic));
    },
    partitionCount,
    async producer(): Promise<LogProducer> {
      if ((options.producer ?? 'wire') === 'wire') return wireProducer();
      const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const close = () => producer.disconnect();
      closers.add(close);
      return {
        async send(topic, messages) {
          if (messages.length === 0) return;
          const partitions = await partitionCount(topic);
          await producer.send({
            topic,
            acks: -1,
            messages: routed(messages, partitions),
          });
        },
        async close() {
          closers.delete(close);
          await close();
        },
      };
    },
    async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
      if ((options.producer ?? 'wire') === 'wire') return wireTransactionalProducer(transactionalId);
      const producer: Producer = kafka.producer({
        transactionalId, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, transactionTimeout: 30_000, createPartitioner: Partitioners.DefaultPartitioner,
        // Back-to-back transactions meet CONCURRENT_TRANSACTIONS while the coordinator still
        // writes the previous one's markers; the Java client retries that after 20 ms. kafkajs's
        // 100 ms first backoff added that much to every trip; many short retries instead.
        retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 30 },
      });
      await producer.connect();
      const close = () => producer.disconnect();
      closers.add(close);
      // InitProducerId happens on the first transaction: do it now, so creating this producer
      // fences an older one with the same id and aborts whatever it left open.
      await (await producer.transaction()).abort();
      return {
        async begin(): Promise<Transaction> {
          const txn = await producer.transaction();
          return transaction(
            (entries) => txn.sendBatch({ acks: -1, topicMessages: entries.map(([topic, messages]) => ({ topic, messages })) }).then(() => {}),
            () => txn.commit(),
            async () => { if (txn.isActive()) await txn.abort(); },
          );
        },
        async close() {
          closers.delete(close);
          await close();
        },
      };
    },
    groupConsumer(consumerOptions: GroupConsumerOptions): GroupConsumer {
      if ((options.fetcher ?? 'wire') === 'wire') return wireGroupConsumer(consumerOptions);
      const consumer = groupConsumerOf(consumerOptions);
      const running = keepRunning(consumer, log, consumerOptions.groupId, consumerOptions.onCrash);
      const close = () => running.stop();
      const commitAfterHandler = (consumerOptions.commit ?? 'after-handler') === 'after-handler';
      const lags = new Map<string, PartitionLag>();
      return {
        async start() {
          closers.add(close);
          await consumer.connect();
          await consumer.subscribe({ topics: consumerOptions.topics, fromBeginning: consumerOptions.fromBeginning });
          const joined = onceJoined(consumer);
          consumer.on(consumer.events.GROUP_JOIN, (event) => {
            const assignment = Object.entries(event.payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions: partitions as number[] }));
            consumerOptions.onAssignment?.(assignment);
          });
          await running.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: consumerOptions.concurrency ?? 1,
            eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
              if (!isRunning() || isStale() || batch.messages.length === 0) return;
              await consumerOptions.handleBatch({ topic: batch.topic, partition: batch.partition, messages: batch.messages.map((m) => toLogMessage(batch.topic, batch.partition, m)) });
              // Resolving moves kafkajs's own fetch position; committing moves the group's.
              resolveOffset(batch.lastOffset());
              lags.set(`${batch.topic}\u0000${batch.partition}`, { topic: batch.topic, partition: batch.partition, lag: Number(batch.offsetLag()) });
              if (commitAfterHandler) {
                const next = (BigInt(batch.lastOffset()) + 1n).toString();
                await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
              }
              await heartbeat();
            },
          });
          await joined;
        },
        async stop() {
          closers.delete(close);
          await close();
        },
        lag: () => [...lags.values()],
        seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset: offset.toString() }),
        commit: (offsets) => consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))),
      };
    },
    committedOffsets,
    reader(topic: string, onMessage: (message: LogMessage) => void, readerOptions: ReaderOptions = {}): PartitionReader {
      const group = (options.fetcher ?? 'wire') === 'wire' ? wireReaderGroup : readerGroup;
      if (options.sharedReaderTopics?.includes(topic)) {
        sharedReaders ??= group(options.sharedReaderTopics);
        return sharedReaders.reader(topic, onMessage, readerOptions);
      }
      return group([topic]).reader(topic, onMessage, readerOptions);
    },
    async close() {
      await Promise.allSettled([...closers].map((close) => close()));
      closers.clear();
      if (admin) await admin.disconnect();
      admin = null;
    },
  };
}

/**
 * kafkajs restarts a crashed consumer only when the error is retriable. A broker outage that
 * outlasts its retries can end in a non-retriable one ("Failed to find group coordinator"),
 * and so does a handler's TypeError: either leaves the process alive with nothing consuming,
 * a processor that never trips again. This restarts such a consumer after a backoff (0.5 s
 * doubling to 30 s, reset by a successful join) until it is stopped; it re-reads from the
 * group's committed offsets (the reader from where it left off), so nothing is skipped.
 */
function keepRunning(consumer: Consumer, log: (line: string) => void, name: string, onCrash?: (error: Error) => void) {
  let config: ConsumerRunConfig | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;
  const restart = async () => {
    timer = null;
    try {
      await consumer.connect();
      if (stopped) return void (await consumer.disconnect());
      await consumer.run(config!);
    } catch (error) {
      schedule(error as Error);
    }
  };
  const schedule = (error: Error) => {
    if (stopped) return;
    const wait = Math.min(30_000, 500 * 2 ** attempt++);
    log(`[fusebox] consumer ${name} stopped on an error kafkajs does not recover from (${error.message}); restarting it in ${wait} ms`);
    timer = setTimeout(restart, wait);
  };
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopped) return; // kafkajs restarts it itself
    onCrash?.(payload.error);
    schedule(payload.error);
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    attempt = 0;
  });
  return {
    async run(runConfig: ConsumerRunConfig): Promise<void> {
      config = runConfig;
      await consumer.run(runConfig);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await consumer.disconnect();
    },
  };
}

/**
 * Retries a metadata-dependent admin call a few times: kafkajs's fetchTopicOffsets throws a
 * TypeError rather than a retriable error when its metadata lacks the topic for a moment
 * (seen right after topic creation and under load).
 */
async function retrying<T>(call: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((ok) => setTimeout(ok, 50 * attempt));
    }
  }
}

/** Until every partition of `topics` has a leader; metadata errors of fresh topics are retried. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

function onceJoined(consumer: Consumer): Promise<void> {
  return new Promise((ok) => {
    const remove = consumer.on(consumer.events.GROUP_JOIN, () => { remove(); ok(); });
  });
}

/** Each message with its partition: the one it names, or the one its key hashes to among `partitions`. */
function routed(messages: readonly OutgoingMessage[], partitions: number): Array<OutgoingMessage & { partition: number }> {
  return messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers, partition: m.partition ?? partitionForKey(m.key, partitions) }));
}

function toLogMessage(topic: string, partition: number, m: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string; headers?: Record<string, unknown> }): LogMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) if (value !== undefined) headers[name] = String(value);
  return { topic, partition, offset: m.offset, key: m.key ? m.key.toString('utf8') : null, value: m.value, timestampMs: Number(m.timestamp), headers };
}
