/**
 * The Fusebox agent client: emit spans, and ask "may I?" before every action.
 *
 * ```ts
 * import { createFusebox, RunHalted } from './client/index.js';
 *
 * const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: ['127.0.0.1:9092'] });
 * const run = await fusebox.startRun();
 * try {
 *   for (;;) {
 *     const plan = await run.llm({ model: 'gpt-4o' }, async () => ({ output: await think(), usage: { inputTokens: 900, outputTokens: 40 } }));
 *     await run.tool('web_search', { q: plan.query }, () => search(plan.query)); // throws RunHalted once tripped
 *   }
 * } catch (error) {
 *   if (error instanceof RunHalted) console.error(error.reason); // detector, threshold, observed
 * } finally {
 *   await run.end();
 *   await fusebox.close();
 * }
 * ```
 *
 * `run.guard()` is synchronous and answers from local state: the breaker board, kept current
 * by following only the control-topic partitions this client's trees hash to. Emission never
 * blocks the agent (see emitter.ts).
 */
import { randomUUID } from 'node:crypto';
import { createKafkaLog } from '../log/kafka.js';
import { partitionForKey } from '../log/partitioner.js';
import type { EventLog, LogProducer, PartitionReader } from '../log/port.js';
import { topicNames, type Topics } from '../log/topics.js';
import { controlEventCodec, SchemaError, spanEventCodec, spanEventSchema, type ControlEvent, type SpanEvent } from '../schemas/index.js';
import { canonicalHash } from '../streams/canonical.js';
import { TAGS_ATTRIBUTE } from '../streams/engine.js';
import { createBreakerBoard, type BreakerBoard } from './breaker-board.js';
import { createEmitter, type Emitter, type EmitterStats } from './emitter.js';
import { ClientClosed, RejectedEvent, RunHalted, TransportUnavailable } from './errors.js';

export { RunHalted, RejectedEvent, TransportUnavailable, ClientClosed, FuseboxError, type FuseboxErrorCode } from './errors.js';

export interface FuseboxOptions {
  tenantId: string;
  agentId: string;
  /** Kafka bootstrap brokers. Ignored when `log` is given. */
  brokers?: string[];
  /** An event log to use instead of Kafka (the in-memory log of `npm start`, tests). */
  log?: EventLog;
  topicPrefix?: string;
  /** Spans per produce request. Default 500. */
  batchSize?: number;
  /** Longest a span waits for companions before it is sent. Default 5 ms. */
  lingerMs?: number;
  /** Spans held while the log is unreachable before the oldest are dropped. Default 10,000. */
  maxBuffered?: number;
  /** Fleet tags of this agent, for tag-scoped policies (sent as the `fusebox.agent.tags` attribute). */
  tags?: string[];
  /** Keep call arguments and results on spans (truncated). Off by default: hashes suffice for detection. */
  captureArguments?: boolean;
  /** Warn dispositions and transport trouble; never thrown at the agent. */
  onWarning?(warning: { kind: 'control'; event: ControlEvent } | { kind: 'transport'; error: Error; spans: number }): void;
}

export interface RunOptions {
  name?: string;
  userId?: string;
  sessionId?: string;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens?: number;
  /** Integer micro-USD, when the caller knows it; otherwise priced downstream. */
  costMicros?: number;
}

const ARGUMENT_LIMIT = 4096;

export async function createFusebox(options: FuseboxOptions): Promise<Fusebox> {
  const ownsLog = !options.log;
  const log = options.log ?? createKafkaLog({ brokers: options.brokers ?? ['127.0.0.1:9092'], clientId: `fusebox-agent-${options.agentId}` });
  const topics = topicNames(options.topicPrefix);
  const board = createBreakerBoard();
  const fusebox = new Fusebox(options, log, ownsLog, topics, board);
  try {
    await fusebox.connect();
  } catch (error) {
    if (ownsLog) await log.close().catch(() => {});
    throw new TransportUnavailable(`could not connect to ${log.describe}: ${(error as Error).message}`, { cause: error });
  }
  return fusebox;
}

export class Fusebox {
  private producer: LogProducer | null = null;
  private emitter: Emitter | null = null;
  private controlReader: PartitionReader | null = null;
  private controlPartitions = 0;
  private closed = false;

  /** @internal use createFusebox */
  constructor(
    readonly options: FuseboxOptions,
    private readonly log: EventLog,
    private readonly ownsLog: boolean,
    readonly topics: Topics,
    private readonly board: BreakerBoard,
  ) {}

  /** @internal */
  async connect(): Promise<void> {
    this.controlPartitions = await this.log.partitionCount(this.topics.control);
    this.producer = await this.log.producer();
    this.emitter = createEmitter(this.producer, {
      topic: this.topics.spans,
      batchSize: this.options.batchSize ?? 500,
      lingerMs: this.options.lingerMs ?? 5,
      maxBuffered: this.options.maxBuffered ?? 10_000,
      onSendError: (error, spans) => this.options.onWarning?.({ kind: 'transport', error, spans }),
    });
    this.controlReader = this.log.reader(this.topics.control, (message) => {
      if (!message.value) return;
      let event: ControlEvent;
      try {
        event = controlEventCodec.decode(message.value);
      } catch (error) {
        if (error instanceof SchemaError) return; // not ours to judge: the processor dead-letters bad input
        throw error;
      }
      if (event.tenantId !== this.options.tenantId) return;
      if (this.board.apply(event) && event.action === 'warn') this.options.onWarning?.({ kind: 'control', event });
    });
    await this.controlReader.start();
  }

  /** Starts a root run: a new spawn tree. Resolves once trips for it will be heard. */
  async startRun(options: RunOptions = {}): Promise<Run> {
    const runId = `run-${randomUUID()}`;
    return this.openRun({ runId, treeId: runId, parentRunId: null, agentId: this.options.agentId, ...options });
  }

  /** @internal */
  async openRun(identity: { runId: string; treeId: string; parentRunId: string | null; agentId: string } & RunOptions): Promise<Run> {
    if (this.closed) throw new ClientClosed();
    await this.controlReader!.follow(partitionForKey(identity.treeId, this.controlPartitions));
    const run = new Run(this, identity);
    run.record({ kind: 'run_start', name: identity.name ?? identity.agentId, status: 'ok' });
    return run;
  }

  /** @internal the open breaker covering a run, if any */
  breakerFor(run: Run) {
    return this.board.check({ runId: run.id, treeId: run.treeId, agentId: run.agentId, tenantId: this.options.tenantId });
  }

  /** @internal validates, encodes and queues a span; never blocks */
  emit(event: SpanEvent): void {
    if (this.closed) throw new ClientClosed();
    let bytes: Buffer;
    try {
      bytes = spanEventCodec.encode(spanEventSchema.parse(event));
    } catch (error) {
      throw new RejectedEvent(`span '${event.name}' rejected: ${(error as Error).message}`, { cause: error });
    }
    this.emitter!.push({ key: event.treeId, value: bytes });
  }

  stats(): EmitterStats {
    return this.emitter!.stats();
  }

  /** Flushes what is buffered (up to `deadlineMs`) and disconnects. */
  async close(deadlineMs = 5_000): Promise<{ unsent: number }> {
    if (this.closed) return { unsent: 0 };
    const result = await this.emitter!.flush(deadlineMs);
    this.closed = true;
    await this.controlReader?.stop();
    await this.producer?.close();
    if (this.ownsLog) await this.log.close();
    return result;
  }
}

export class Run {
  readonly id: string;
  readonly treeId: string;
  readonly parentRunId: string | null;
  readonly agentId: string;
  private readonly userId: string | null;
  private readonly sessionId: string | null;

  /** @internal use fusebox.startRun() or run.spawn() */
  constructor(private readonly fusebox: Fusebox, identity: { runId: string; treeId: string; parentRunId: string | null; agentId: string } & RunOptions) {
    this.id = identity.runId;
    this.treeId = identity.treeId;
    this.parentRunId = identity.parentRunId;
    this.agentId = identity.agentId;
    this.userId = identity.userId ?? null;
    this.sessionId = identity.sessionId ?? null;
  }

  /** Throws RunHalted if a breaker covering this run (run, tree, agent, tenant) is open. */
  guard(): void {
    const open = this.fusebox.breakerFor(this);
    if (open) {
      const { event } = open;
      throw new RunHalted(this.id, open.scope, event.reason, { id: event.policyId, version: event.policyVersion }, event.action === 'kill' ? 'kill' : 'trip');
    }
  }

  /** Runs a tool under the breaker: guard first, then a tool_call span with the outcome. */
  async tool<T>(name: string, args: unknown, fn: () => Promise<T> | T): Promise<T> {
    this.guard();
    const startTimeMs = Date.now();
    const argsHash = canonicalHash(args);
    const capturedArgs = this.capture(args);
    try {
      const result = await fn();
      this.record({ kind: 'tool_call', name, status: 'ok', startTimeMs, argsHash, args: capturedArgs, outputHash: canonicalHash(result), output: this.capture(result) });
      return result;
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.record({ kind: 'tool_call', name, status: 'error', error: message.slice(0, ARGUMENT_LIMIT), startTimeMs, argsHash, args: capturedArgs, outputHash: canonicalHash({ error: message }) });
      throw error;
    }
  }

  /** Runs a model call under the breaker: guard first, then an llm_call span with its usage. */
  async llm<T>(call: { model: string; provider?: string; name?: string }, fn: () => Promise<{ output: T; usage: LlmUsage }>): Promise<T> {
    this.guard();
    const startTimeMs = Date.now();
    try {
      const { output, usage } = await fn();
      this.record({
        kind: 'llm_call', name: call.name ?? call.model, status: 'ok', startTimeMs, model: call.model, provider: call.provider ?? null,
        inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedTokens: usage.cachedTokens ?? 0, costMicros: usage.costMicros ?? null,
      });
      return output;
    } catch (error) {
      this.record({ kind: 'llm_call', name: call.name ?? call.model, status: 'error', error: String(error).slice(0, ARGUMENT_LIMIT), startTimeMs, model: call.model, provider: call.provider ?? null });
      throw error;
    }
  }

  /** Starts a child run in the same spawn tree and records the spawn edge. */
  async spawn(options: RunOptions & { agentId?: string } = {}): Promise<Run> {
    this.guard();
    const childId = `run-${randomUUID()}`;
    this.record({ kind: 'spawn', name: options.name ?? options.agentId ?? this.agentId, status: 'ok', edge: { kind: 'spawn', targetRunId: childId, targetTreeId: this.treeId } });
    return this.fusebox.openRun({ runId: childId, treeId: this.treeId, parentRunId: this.id, agentId: options.agentId ?? this.agentId, userId: options.userId ?? this.userId ?? undefined, sessionId: options.sessionId ?? this.sessionId ?? undefined, name: options.name });
  }

  /** Records the end of the run. */
  end(status: 'ok' | 'error' = 'ok', error?: string): void {
    this.record({ kind: 'run_end', name: this.agentId, status, error: error ?? null });
  }

  /** @internal and for custom spans: fills identity and time, validates, queues. */
  record(span: Partial<SpanEvent> & Pick<SpanEvent, 'kind' | 'name'>): void {
    const endTimeMs = Date.now();
    this.fusebox.emit({
      eventId: randomUUID(),
      tenantId: this.fusebox.options.tenantId,
      agentId: this.agentId,
      runId: this.id,
      parentRunId: this.parentRunId,
      treeId: this.treeId,
      spanId: randomUUID(),
      parentSpanId: null,
      status: 'unset',
      error: null,
      startTimeMs: span.startTimeMs ?? endTimeMs,
      endTimeMs,
      model: null,
      provider: null,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      costMicros: null,
      argsHash: null,
      args: null,
      outputHash: null,
      output: null,
      userId: this.userId,
      sessionId: this.sessionId,
      edge: null,
      ...span,
      attributes: this.fusebox.options.tags?.length ? { [TAGS_ATTRIBUTE]: this.fusebox.options.tags.join(','), ...span.attributes } : span.attributes ?? {},
    });
  }

  private capture(value: unknown): string | null {
    if (!this.fusebox.options.captureArguments) return null;
    const text = JSON.stringify(value) ?? 'null';
    return text.length > ARGUMENT_LIMIT ? `${text.slice(0, ARGUMENT_LIMIT)}…` : text;
  }
}
