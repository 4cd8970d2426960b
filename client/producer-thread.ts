/**
 * The Kafka producer on a thread of its own (producer-worker.ts), so the agent's event loop
 * never runs kafkajs's produce path. The agent's thread packs each batch into one buffer and
 * transfers it (no copy, one message per batch); the thread answers each batch with sent or
 * failed, so the emitter's bound, drop counting and retries stay in the agent's thread.
 *
 * The worker is unref'd while it has nothing to do: it never keeps the agent's process alive,
 * whether or not the agent calls close(), except to finish a batch it was given (as an open
 * socket would) or to close. A worker that dies is started again for the next batch.
 */
import { Worker } from 'node:worker_threads';
import type { PackedBatch } from './encoded-spans.js';
import type { FromProducer, ProducerWorkerData, ToProducer } from './producer-protocol.js';

export interface ProducerThreadOptions extends Omit<ProducerWorkerData, 'body'> {
  /** Where kafkajs's own log lines go. Default: stderr. */
  log?(line: string): void;
}

/** The worker body in the form this module was loaded in (TypeScript sources, or compiled JavaScript). */
const BODY = new URL(`./producer-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
const ENTRY = new URL('./producer-worker.mjs', import.meta.url);

export class ProducerThread {
  private worker: Worker | null = null;
  /** A worker started but not connected yet: close() ends it rather than wait out kafkajs's connect retries. */
  private spawning: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { ok(): void; fail(error: Error): void }>();
  private closed = false;

  constructor(private readonly options: ProducerThreadOptions) {}

  /** Starts the thread and connects its producer; throws what the connection threw. */
  async start(): Promise<void> {
    await this.ready();
  }

  /** Resolves once the producer has the batch (acks from all in-sync replicas); throws to have it retried. */
  async send(batch: PackedBatch): Promise<void> {
    const worker = await this.ready();
    const id = this.nextId++;
    const done = new Promise<void>((ok, fail) => this.pending.set(id, { ok, fail }));
    worker.ref();
    worker.postMessage({ type: 'send', id, batch } satisfies ToProducer, [batch.buffer]);
    return done;
  }

  /** Disconnects the producer and ends the thread; terminated if it has not ended by `deadlineMs`. */
  async close(deadlineMs = 5_000): Promise<void> {
    this.closed = true;
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

  private ready(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.closed) return Promise.reject(new Error('the producer thread is closed'));
    this.starting ??= this.spawn().finally(() => { this.starting = null; });
    return this.starting;
  }

  private spawn(): Promise<Worker> {
    const { log, ...data } = this.options;
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
          case 'sent':
            this.settle(message.id)?.ok();
            break;
          case 'failed':
            this.settle(message.id)?.fail(Object.assign(new Error(message.message), { name: message.name }));
            break;
          case 'log':
            (log ?? ((line: string) => console.error(line)))(message.line);
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
