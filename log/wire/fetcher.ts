/**
 * Fusebox's own Kafka fetcher: it reads the partitions it is given, from the positions it is
 * given, and hands each partition's records to a handler as batches, in order. It knows no
 * consumer group: who owns which partition and where to start is the caller's business
 * (log/kafka.ts keeps a kafkajs consumer in the group for that, its partitions all paused, and
 * lets this read). It exists for the same reason as the producer: kafkajs's fetch path (a
 * decoder object, a Long and several Buffers per record) was a fifth of the processor's CPU.
 *
 * One fetch loop per leader broker, each on its own connection: a Fetch v4 for every partition
 * of that leader that has room (at most one batch waiting behind the one being handled), sent
 * again as soon as the answer is in, so the broker's wait overlaps the handler's work. A
 * partition's batches are handled one at a time, in order; `concurrency` bounds how many
 * partitions are handled at once. A seek or a revoke while a fetch is out discards what that
 * fetch brings for the partition (each partition carries an epoch, bumped by both).
 *
 * Errors: a stale leader (moved, being elected, unknown topic for a moment) refreshes the
 * metadata; a broker that cannot be reached is retried with a doubling backoff (0.1 s to 2 s);
 * OFFSET_OUT_OF_RANGE (the position was deleted by retention, or is past the end after a
 * truncation) resets the partition to its earliest or latest offset, as the group consumer
 * would. A handler that throws has its batch handled again after a backoff (from the batch's
 * first offset, unless it sought elsewhere meanwhile) and `onHandlerError` hears of it.
 */
import { createCluster } from './cluster.js';
import { API_FETCH, API_LIST_OFFSETS, decodeFetch, decodeListOffsets, EARLIEST, fetchRequestBody, type FetchTopicRequest, LATEST, listOffsetsRequestBody, READ_COMMITTED, READ_UNCOMMITTED } from './fetch-protocol.js';
import { describeError } from './protocol.js';
import { decodeRecords, RecordDecodeError } from './record-decode.js';
import type { LogBatch, PartitionLag } from '../port.js';

export interface WireFetcherOptions {
  brokers: string[];
  clientId: string;
  /** The handler of every batch; a partition's next batch waits until it resolves. */
  onBatch(batch: LogBatch): Promise<void> | void;
  /** A handler threw (its batch is handled again after a backoff). */
  onHandlerError?(error: Error, batch: LogBatch): void;
  /** Everything of the partition before `offset` has been handled (control records and aborted transactions included): how a reader knows it caught up. */
  onProgress?(topic: string, partition: number, offset: bigint): void;
  /** A broker answered a fetch: the log is reachable. */
  onResponse?(): void;
  /** Problems the fetcher retries by itself (unreachable broker, stale leader, reset positions). */
  log?(line: string): void;
  /** How long the broker may hold a fetch waiting for `minBytes`. Default 25 ms. */
  maxWaitMs?: number;
  /** Default 1 byte: an answer as soon as anything arrives. */
  minBytes?: number;
  /** Per partition per fetch. Default 1 MiB. */
  partitionMaxBytes?: number;
  /** Per fetch. Default 16 MiB. */
  maxBytes?: number;
  /** Default true: nothing of an aborted or open transaction is delivered. */
  readCommitted?: boolean;
  /** Where a partition goes when its position is out of range. Default 'earliest'. */
  resetTo?: 'earliest' | 'latest';
  /** Partitions handled at once. Default: no bound. */
  concurrency?: number;
  /** Default true (the Java client's check.crcs). */
  checkCrcs?: boolean;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** A fetch problem that is not retried here (a corrupt batch, an unreadable codec). */
export class KafkaFetchError extends Error {
  override name = 'KafkaFetchError';
  constructor(message: string, readonly retriable: boolean) {
    super(message);
  }
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to fetch. */
  position: bigint;
  /** Bumped by seek and revoke: answers to fetches sent before are dropped. */
  epoch: number;
  /** Paused partitions are neither fetched nor handled (a rebalance under way). */
  paused: boolean;
  /** Fetched, waiting for the handler. */
  waiting: LogBatch | null;
  handling: boolean;
  /** A fetch for it is out. */
  inFlight: boolean;
  /** Answered since it was assigned or sought: until then it is fetched on the first lane. */
  answered: boolean;
  /** Not fetched before this time (Date.now ms): after a handler failure or a partition error. */
  notBefore: number;
  highWatermark: bigint | null;
  /** Everything before this offset has been handled (or skipped: control records, aborted transactions). */
  handledTo: bigint | null;
  failures: number;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export function createWireFetcher(options: WireFetcherOptions) {
  const log = options.log ?? ((line: string) => console.error(line));
  const maxWaitMs = options.maxWaitMs ?? 25;
  const isolation = options.readCommitted === false ? READ_UNCOMMITTED : READ_COMMITTED;
  const fetchOptions = { maxWaitMs, minBytes: options.minBytes ?? 1, maxBytes: options.maxBytes ?? 16 * 1024 * 1024, isolation } as const;
  const partitionMaxBytes = options.partitionMaxBytes ?? 1024 * 1024;
  const checkCrcs = options.checkCrcs ?? true;
  const concurrency = options.concurrency ?? Infinity;
  const cluster = createCluster({
    brokers: options.brokers, clientId: options.clientId, requestTimeoutMs: Math.max(options.requestTimeoutMs ?? 30_000, maxWaitMs + 5_000), connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    error: (message, retriable) => new KafkaFetchError(message, retriable),
  });
  const partitions = new Map<string, PartitionState>();
  /**
   * Per leader and lane, its fetch loop while one runs. Two lanes, each on its own connection
   * (and neither on the one metadata and ListOffsets use):
   * 'steady' long-polls (up to maxWaitMs) for partitions already answered once; 'first' asks
   * at once (no wait) for partitions just assigned or sought, so a newly followed partition
   * never waits behind a long poll in flight for the others (a client's startRun waits on it).
   */
  const loops = new Map<string, Promise<void>>();
  const firstFetchOptions = { ...fetchOptions, maxWaitMs: 0 } as const;
  type Lane = 'steady' | 'first';
  const laneOf = (state: PartitionState): Lane => (state.answered ? 'steady' : 'first');
  /** Partitions ready to be handled, waiting for a free slot of `concurrency`. */
  const ready: PartitionState[] = [];
  let handlingCount = 0;
  const handlers = new Set<Promise<void>>();
  let running = false;
  /** Wakes the loops (a partition got room or became fetchable) and the leaderless retry timer. */
  let wakeTimer: NodeJS.Timeout | null = null;

  function fetchable(state: PartitionState, now: number): boolean {
    return !state.paused && !state.inFlight && state.waiting === null && state.notBefore <= now;
  }

  /** Starts a loop for every leader that has a fetchable partition and no loop. */
  async function wake(): Promise<void> {
    if (!running) return;
    const now = Date.now();
    const byTopic = new Map<string, PartitionState[]>();
    let earliestRetry = Infinity;
    for (const state of partitions.values()) {
      if (fetchable(state, now)) {
        const list = byTopic.get(state.topic);
        if (list) list.push(state);
        else byTopic.set(state.topic, [state]);
      } else if (!state.paused && !state.inFlight && state.waiting === null) {
        earliestRetry = Math.min(earliestRetry, state.notBefore);
      }
    }
    if (earliestRetry < Infinity) schedule(earliestRetry - now);
    for (const [topic, list] of byTopic) {
      let leaders: number[];
      try {
        leaders = (await cluster.metadataOf(topic)).leaders;
      } catch (error) {
        log(`[fusebox] fetcher: no metadata for '${topic}' (${(error as Error).message}); retrying`);
        for (const state of list) backOff(state);
        continue;
      }
      for (const state of list) {
        const leader = leaders[state.partition] ?? -1;
        if (leader < 0) {
          cluster.forget(topic);
          backOff(state);
        } else {
          const lane = laneOf(state);
          const key = `${leader}:${lane}`;
          if (!loops.has(key)) {
            loops.set(key, fetchLoop(leader, lane).finally(() => {
              loops.delete(key);
              if (running) void wake();
            }));
          }
        }
      }
    }
  }

  /** When the wake timer fires (Date.now ms). */
  let wakeAt = Infinity;

  function schedule(delayMs: number): void {
    if (!running) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (wakeTimer && wakeAt <= at) return;
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeAt = at;
    wakeTimer = setTimeout(() => {
      wakeTimer = null;
      wakeAt = Infinity;
      void wake();
    }, Math.max(0, delayMs));
  }

  function backOff(state: PartitionState): void {
    state.failures += 1;
    state.notBefore = Date.now() + Math.min(2_000, 100 * 2 ** (state.failures - 1));
    schedule(state.notBefore - Date.now());
  }

  /** Fetches for `leader`'s partitions of `lane` until none of them is fetchable. */
  async function fetchLoop(leader: number, lane: Lane): Promise<void> {
    while (running) {
      const now = Date.now();
      const mine: PartitionState[] = [];
      for (const state of partitions.values()) {
        if (!fetchable(state, now) || laneOf(state) !== lane) continue;
        let leaders: number[];
        try {
          leaders = (await cluster.metadataOf(state.topic)).leaders;
        } catch {
          continue; // wake() reports it and backs off
        }
        if (leaders[state.partition] === leader) mine.push(state);
      }
      if (mine.length === 0) return;
      // Never the default connection: metadata and ListOffsets go there, and must not queue
      // behind a long poll (a follow's ListOffsets waited out a 100 ms fetch twice, measured).
      const connection = cluster.connectionTo(leader, lane);
      if (!connection) {
        for (const state of mine) {
          cluster.forget(state.topic);
          backOff(state);
        }
        return;
      }
      const sent = new Map<PartitionState, { epoch: number; offset: bigint }>();
      const byTopic = new Map<string, FetchTopicRequest>();
      for (const state of mine) {
        state.inFlight = true;
        sent.set(state, { epoch: state.epoch, offset: state.position });
        const request = byTopic.get(state.topic) ?? { topic: state.topic, partitions: [] };
        request.partitions.push({ partition: state.partition, offset: state.position, maxBytes: partitionMaxBytes });
        byTopic.set(state.topic, request);
      }
      let answer: ReturnType<typeof decodeFetch>;
      try {
        answer = decodeFetch(await connection.request(API_FETCH, 4, [fetchRequestBody(lane === 'first' ? firstFetchOptions : fetchOptions, [...byTopic.values()])]));
      } catch (error) {
        for (const state of mine) {
          state.inFlight = false;
          cluster.forget(state.topic);
          backOff(state);
        }
        if (running) log(`[fusebox] fetcher: fetch from broker ${leader} failed (${(error as Error).message}); retrying`);
        return;
      } finally {
        for (const state of mine) state.inFlight = false;
      }
      options.onResponse?.();
      for (const fetched of answer) {
        const state = partitions.get(keyOf(fetched.topic, fetched.partition));
        const asked = state && sent.get(state);
        if (!state || !asked || asked.epoch !== state.epoch || asked.offset !== state.position) continue; // sought or revoked meanwhile
        if (fetched.errorCode !== 0) {
          await partitionError(state, fetched.errorCode);
          continue;
        }
        state.failures = 0;
        state.answered = true;
        state.highWatermark = fetched.highWatermark;
        let decoded: ReturnType<typeof decodeRecords>;
        try {
          decoded = decodeRecords(fetched.records, { topic: state.topic, partition: state.partition, fromOffset: state.position, aborted: fetched.aborted, readCommitted: isolation === READ_COMMITTED, checkCrcs });
        } catch (error) {
          if (!(error instanceof RecordDecodeError)) throw error;
          // Not retried quickly: the same bytes will fail the same way until someone seeks past them.
          log(`[fusebox] fetcher: ${error.message}; the partition waits`);
          state.failures = 5;
          backOff(state);
          continue;
        }
        state.position = decoded.nextOffset;
        if (decoded.messages.length > 0) {
          state.waiting = { topic: state.topic, partition: state.partition, messages: decoded.messages };
          enqueue(state);
        }
        settle(state);
      }
      // A partition sought while this fetch was out could not be taken by the other lane's loop
      // (it was in flight here): let that loop start now if it has work.
      void wake();
    }
  }

  async function partitionError(state: PartitionState, code: number): Promise<void> {
    const error = describeError(code);
    if (code === 1) {
      // OFFSET_OUT_OF_RANGE: gone to retention (or beyond the end after a truncation).
      const epoch = state.epoch;
      try {
        const to = await listOffset(state.topic, state.partition, options.resetTo === 'latest' ? LATEST : EARLIEST);
        if (state.epoch !== epoch) return;
        log(`[fusebox] fetcher: offset ${state.position} of partition ${state.partition} of '${state.topic}' is out of range; going on from the ${options.resetTo ?? 'earliest'} offset, ${to}`);
        state.position = to;
        state.epoch += 1;
      } catch (listError) {
        log(`[fusebox] fetcher: could not reset partition ${state.partition} of '${state.topic}' (${(listError as Error).message}); retrying`);
        backOff(state);
      }
      return;
    }
    if (error.staleLeader) cluster.forget(state.topic);
    if (state.failures === 0 || state.failures % 20 === 0) log(`[fusebox] fetcher: partition ${state.partition} of '${state.topic}': ${error.name}; retrying`);
    backOff(state);
  }

  async function listOffset(topic: string, partition: number, at: bigint): Promise<bigint> {
    const leader = (await cluster.metadataOf(topic)).leaders[partition] ?? -1;
    const connection = leader >= 0 ? cluster.connectionTo(leader) : null;
    if (!connection) {
      cluster.forget(topic);
      throw new KafkaFetchError(`partition ${partition} of '${topic}' has no known leader`, true);
    }
    const [listed] = decodeListOffsets(await connection.request(API_LIST_OFFSETS, 2, [listOffsetsRequestBody(isolation, topic, [partition], at)]));
    if (!listed) throw new KafkaFetchError(`ListOffsets returned nothing for partition ${partition} of '${topic}'`, true);
    if (listed.errorCode !== 0) {
      const error = describeError(listed.errorCode);
      if (error.staleLeader) cluster.forget(topic);
      throw new KafkaFetchError(`ListOffsets for partition ${partition} of '${topic}': ${error.name}`, error.retriable);
    }
    return listed.offset;
  }

  function enqueue(state: PartitionState): void {
    if (state.handling || state.paused || state.waiting === null) return;
    if (handlingCount >= concurrency) {
      if (!ready.includes(state)) ready.push(state);
      return;
    }
    const batch = state.waiting;
    state.waiting = null;
    state.handling = true;
    handlingCount += 1;
    const epoch = state.epoch;
    const done = (async () => {
      try {
        await options.onBatch(batch);
        state.failures = 0;
      } catch (error) {
        options.onHandlerError?.(error as Error, batch);
        // Handled again from its first offset, unless the handler sought elsewhere meanwhile.
        if (state.epoch === epoch && partitions.get(keyOf(state.topic, state.partition)) === state) {
          seekState(state, BigInt(batch.messages[0]!.offset));
          backOff(state);
        }
      } finally {
        state.handling = false;
        handlingCount -= 1;
      }
    })();
    handlers.add(done);
    void done.then(() => {
      handlers.delete(done);
      enqueue(state);
      settle(state);
      while (handlingCount < concurrency && ready.length > 0) enqueue(ready.shift()!);
      void wake();
    });
  }

  /** With nothing fetched left to handle, everything before the position is handled. */
  function settle(state: PartitionState): void {
    if (state.handling || state.waiting !== null || state.paused || state.handledTo === state.position) return;
    state.handledTo = state.position;
    options.onProgress?.(state.topic, state.partition, state.position);
  }

  function seekState(state: PartitionState, offset: bigint): void {
    state.position = offset;
    state.epoch += 1;
    state.answered = false;
    state.waiting = null;
    const queued = ready.indexOf(state);
    if (queued >= 0) ready.splice(queued, 1);
  }

  return {
    async start(): Promise<void> {
      running = true;
      await cluster.askAnyBroker([]);
      void wake();
    },
    /** Starts reading a partition at `offset` (a partition already assigned is sought there). */
    assign(topic: string, partition: number, offset: bigint): void {
      const key = keyOf(topic, partition);
      const existing = partitions.get(key);
      if (existing) {
        seekState(existing, offset);
        existing.paused = false;
      } else {
        partitions.set(key, { topic, partition, position: offset, epoch: 0, paused: false, waiting: null, handling: false, inFlight: false, answered: false, notBefore: 0, highWatermark: null, handledTo: null, failures: 0 });
      }
      void wake();
    },
    /** Goes on reading a paused partition from where it was. */
    resume(topic: string, partition: number): void {
      const state = partitions.get(keyOf(topic, partition));
      if (!state) return;
      state.paused = false;
      void wake();
    },
    /** Asks any broker for metadata: whether the log is reachable while no partition is fetched. */
    ping: async (): Promise<void> => {
      await cluster.askAnyBroker([]);
    },
    /**
     * The partition's earliest or latest offset (the last stable one under read_committed), or
     * the first offset stamped at or after a time in ms (-1 when none is).
     */
    offsetAt: (topic: string, partition: number, which: 'earliest' | 'latest' | number) => listOffset(topic, partition, which === 'earliest' ? EARLIEST : which === 'latest' ? LATEST : BigInt(which)),
    /** Whether the partition is assigned (paused or not). */
    has: (topic: string, partition: number) => partitions.has(keyOf(topic, partition)),
    /** Stops reading a partition; a batch being handled finishes, nothing more is delivered. */
    revoke(topic: string, partition: number): void {
      const state = partitions.get(keyOf(topic, partition));
      if (!state) return;
      seekState(state, state.position);
      partitions.delete(keyOf(topic, partition));
    },
    /** Holds every partition (no fetch, no delivery) until assigned again: a rebalance is under way. */
    pauseAll(): void {
      for (const state of partitions.values()) {
        state.paused = true;
        seekState(state, state.waiting ? BigInt(state.waiting.messages[0]!.offset) : state.position);
      }
    },
    /** The partition's next batch starts at `offset`; batches fetched before are dropped. */
    seek(topic: string, partition: number, offset: bigint): void {
      const state = partitions.get(keyOf(topic, partition));
      if (!state) return;
      seekState(state, offset);
      void wake();
    },
    assigned(): Array<{ topic: string; partition: number }> {
      return [...partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
    },
    /** Per partition handled at least once: the high watermark of its latest fetch minus what was handled. */
    lag(): PartitionLag[] {
      const out: PartitionLag[] = [];
      for (const state of partitions.values()) {
        if (state.highWatermark === null || state.handledTo === null) continue;
        out.push({ topic: state.topic, partition: state.partition, lag: Math.max(0, Number(state.highWatermark - state.handledTo)) });
      }
      return out;
    },
    /** Stops fetching and waits for the batches being handled. */
    async stop(): Promise<void> {
      running = false;
      if (wakeTimer) clearTimeout(wakeTimer);
      wakeTimer = null;
      for (const state of partitions.values()) state.paused = true;
      ready.length = 0;
      await Promise.allSettled([...handlers]);
      cluster.close();
      await Promise.allSettled([...loops.values()]);
    },
  };
}

export type WireFetcher = ReturnType<typeof createWireFetcher>;
