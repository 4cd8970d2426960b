/**
 * The client's Kafka thread (producer-worker.ts), so the agent's event loop never runs a Kafka
 * client: neither the produce path (log/wire/) nor the readers (control, control-early, policies
 * and breaker-state, on one fetch loop of log/wire's fetcher). The agent's thread packs each batch into one buffer and
 * transfers it (no copy, one message per batch); the thread answers each batch with done or
 * failed, so the emitter's bound, drop counting and retries stay in the agent's thread.
 *
 * `reader()` and `partitionCount()` have the event-log port's shape, so the control reader and
 * the policy feed run unchanged over it: the readers run on the thread, every message they
 * deliver (rare and small: control events, policy changes) and every contact (a heartbeat, about
 * one a second) crosses back to be applied here, where guard() reads them synchronously. A
 * follow resolves once the thread's reader has fixed its position, as on the port.
 *
 * One thread for both: one Kafka connection set, one startup to fail, one close. The worker is
 * unref'd while nothing is asked of it: it never keeps the agent's process alive, whether or not
 * the agent calls close(), except to finish what it was asked (a batch, a follow) or to close.
 * A worker that dies is started again for the next request; the readers it held are not: the
 * control plane then goes unheard, and the staleness bound reports it.
 */
import { Worker } from 'node:worker_threads';
import type { LogMessage, PartitionReader, ReaderOptions } from '../log/port.js';
import type { PackedBatch } from './encoded-spans.js';
import type { FromProducer, ProducerWorkerData, Request, ToProducer } from './producer-protocol.js';

export interface ProducerThreadOptions extends Omit<ProducerWorkerData, 'body'> {
  /** Where kafkajs's own log lines (and a reader callback's throw) go. Default: stderr. */
  log?(line: string): void;
}

/** The worker body in the form this module was loaded in (TypeScript sources, or compiled JavaScript). */
const BODY = new URL(`./producer-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
const ENTRY = new URL('./producer-worker.mjs', import.meta.url);

interface ReaderCallbacks {
  onMessage(message: LogMessage): void;
  onContact?(): void;
}

export class ProducerThread {
  private worker: Worker | null = null;
  /** A worker started but not connected yet: close() ends it rather than wait out kafkajs's connect retries. */
  private spawning: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private nextId = 0;
  private nextReader = 0;
  private readonly pending = new Map<number, { ok(value: number | undefined): void; fail(error: Error): void }>();
  private readonly readers = new Map<number, ReaderCallbacks>();
  private closed = false;

  constructor(private readonly options: ProducerThreadOptions) {}

  /** Starts the thread and connects its producer; throws what the connection threw. */
  async start(): Promise<void> {
    await this.ready();
  }

  /** Resolves once the producer has the batch (acks from all in-sync replicas); throws to have it retried. */
  async send(batch: PackedBatch): Promise<void> {
    await this.request({ type: 'send', batch }, [batch.buffer]);
  }

  /** The topic's partition count, from the thread's metadata. */
  async partitionCount(topic: string): Promise<number> {
    return (await this.request({ type: 'partitions', topic }))!;
  }

  /** A reader on the thread (see PartitionReader); `onMessage` and `onContact` are called on this thread. */
  reader(topic: string, onMessage: (message: LogMessage) => void, options: ReaderOptions = {}): PartitionReader {
    const reader = this.nextReader++;
    const followed = new Set<number>();
    return {
      start: async () => {
        this.readers.set(reader, { onMessage, onContact: options.onContact });
        await this.request({ type: 'reader-start', reader, topic, contact: options.onContact !== undefined });
      },
      // A followed partition is answered here: a run whose tree shares one costs no round trip.
      follow: async (partition, from = 'end') => {
        if (followed.has(partition)) return;
        await this.request({ type: 'follow', reader, partition, from });
        followed.add(partition);
      },
      unfollow: (partition) => {
        followed.delete(partition);
        this.worker?.postMessage({ type: 'unfollow', reader, partition } satisfies ToProducer);
      },
      stop: async () => {
        this.readers.delete(reader);
        if (this.worker && !this.closed) await this.request({ type: 'reader-stop', reader });
      },
    };
  }

  /** Disconnects the producer and the readers and ends the thread; terminated if it has not ended by `deadlineMs`. */
  async close(deadlineMs = 5_000): Promise<void> {
    this.closed = true;
    this.readers.clear();
    if (!this.worker && this.spawning) {
      await this.spawning.terminate();
      return;
    }
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((ok) => worker.once('exit', () => ok()));
    worker.ref();
    worker.postMessage({ type: 'close' } satisfies ToProducer);
    const timer = setTimeout(() => void worker.terminate(), deadlineMs);
    await exited;
    clearTimeout(timer);
  }

  /** Posts a request and holds the process open (ref) until it is answered. */
  private async request(request: Request, transfer: ArrayBuffer[] = []): Promise<number | undefined> {
    const worker = await this.ready();
    const id = this.nextId++;
    const done = new Promise<number | undefined>((ok, fail) => this.pending.set(id, { ok, fail }));
    worker.ref();
    worker.postMessage({ ...request, id } satisfies ToProducer, transfer);
    return done;
  }

  private ready(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.closed) return Promise.reject(new Error('the producer thread is closed'));
    this.starting ??= this.spawn().finally(() => { this.starting = null; });
    return this.starting;
  }

  private spawn(): Promise<Worker> {
    const { log: logOption, ...data } = this.options;
    const log = logOption ?? ((line: string) => console.error(line));
    const worker = new Worker(ENTRY, { workerData: { ...data, body: BODY }, stdout: false, stderr: false });
    worker.unref();
    this.spawning = worker;
    return new Promise<Worker>((ok, fail) => {
      let started = false;
      const ended = (error: Error) => {
        if (this.worker === worker) this.worker = null;
        if (this.spawning === worker) this.spawning = null;
        for (const { fail: failed } of this.pending.values()) failed(error);
        this.pending.clear();
        if (!started) fail(error);
      };
      worker.on('message', (message: FromProducer) => {
        switch (message.type) {
          case 'ready':
            started = true;
            this.spawning = null;
            this.worker = worker;
            ok(worker);
            break;
          case 'start-failed':
            fail(new Error(message.message));
            break;
          case 'done':
            this.settle(message.id)?.ok(message.value);
            break;
          case 'failed':
            this.settle(message.id)?.fail(Object.assign(new Error(message.message), { name: message.name }));
            break;
          case 'message': {
            const reader = this.readers.get(message.reader);
            if (!reader) break;
            const value = message.message.value;
            // Structured clone delivers a Uint8Array; the codecs read Buffers (same bytes, no copy).
            try {
              reader.onMessage({ ...message.message, value: value === null ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength) });
            } catch (error) {
              // A throw here would be uncaught in the agent's process; the reader goes on, as kafkajs's would after a retry.
              log(`a reader's handler threw on ${message.message.topic}/${message.message.partition}@${message.message.offset}: ${(error as Error).stack ?? String(error)}`);
            }
            break;
          }
          case 'contact':
            this.readers.get(message.reader)?.onContact?.();
            break;
          case 'log':
            log(message.line);
            break;
          case 'closed':
            break;
        }
      });
      worker.on('error', (error) => ended(error));
      worker.on('exit', (code) => ended(new Error(`the producer thread ended (exit code ${code})`)));
    });
  }

  private settle(id: number) {
    const waiter = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closed) this.worker?.unref();
    return waiter;
  }
}
