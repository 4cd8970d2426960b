/**
 * The Fusebox agent client: emit spans, and ask "may I?" before every action. Two lines:
 *
 * ```ts
 * import { createFusebox, RunHalted } from './client/index.js';
 *
 * const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'researcher', brokers: ['127.0.0.1:9092'] });
 * const run = await fusebox.startRun();
 *
 * const search = run.wrapTool('web_search', searchTheWeb);           // guarded, one tool_call span per call
 * const think = run.wrapModel({ model: 'gpt-4o' }, callModel, (r) => ({ inputTokens: r.usage.in, outputTokens: r.usage.out }));
 * try {
 *   for (;;) await search((await think(prompt)).query);             // throws RunHalted once a breaker trips
 * } catch (error) {
 *   if (error instanceof RunHalted) console.error(error.reason, error.policy, error.origin);
 * } finally {
 *   run.end();
 *   await fusebox.close();                                           // flushes, with a deadline
 * }
 * ```
 *
 * Without Kafka: `createFusebox({ transport: 'http', url: 'https://gateway', apiKey: 'fbx_...', tenantId, agentId })`,
 * the same API over the gateway (spans POSTed in batches, trips over Server-Sent Events).
 *
 * - `run.guard(next?)` is synchronous and answers from local state: the breaker board (kept
 *   current from the control topic, only the partitions this client's trees hash to), the local
 *   pre-checks from cached policies (iteration cap; allowed tools when `next` names a tool), and
 *   the staleness of the control plane (`staleAfterMs`, `whenStale`: fail open by default).
 * - Emission never blocks or throws at the agent for transport trouble: spans wait in a bounded
 *   buffer (drop-oldest, counted in `stats().dropped`); `close()` flushes with a deadline.
 * - Errors: `RunHalted` (scope, reason, policy, origin), `RejectedEvent`, `TransportUnavailable`,
 *   `ClientClosed`; warnings (warn dispositions, transport trouble, staleness) go to `onWarning`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { createKafkaLog } from '../log/kafka.js';
import type { EventLog } from '../log/port.js';
import { topicNames } from '../log/topics.js';
import { SchemaError, spanEventSchema, type ControlEvent, type SpanEvent } from '../schemas/index.js';
import { createLogger, type Logger } from '../services/logger.js';
import { createBreakerBoard, type BreakerBoard } from './breaker-board.js';
import { createEmitter, type Emitter, type EmitterStats } from './emitter.js';
import { ClientClosed, RejectedEvent, RunHalted, TransportUnavailable } from './errors.js';
import { createHttpTransport, type RejectedSpan } from './http-transport.js';
import { checkLocally, createCachedPolicies, type NextAction } from './local-checks.js';
import { CONTROL_LOOKBACK_MS, createLogTransport } from './log-transport.js';
import { checkSuppliedFields, Run, type RunHandoff, type RunHost, type RunIdentity, type RunOptions } from './run.js';
import { createStalenessWatch, type StaleMode, type StaleTransition, type StalenessWatch } from './staleness.js';
import { RetryLater, type Transport } from './transport.js';

export { RunHalted, RejectedEvent, TransportUnavailable, ClientClosed, FuseboxError, type FuseboxErrorCode, type HaltOrigin } from './errors.js';
export { Run, type RunHandoff, type RunOptions, type LlmUsage, type ModelCall, type SignalEdge } from './run.js';
export type { NextAction } from './local-checks.js';
export type { StaleMode, StaleTransition } from './staleness.js';
export type { RejectedSpan } from './http-transport.js';

export type FuseboxWarning =
  | { kind: 'control'; event: ControlEvent }
  | { kind: 'transport'; error: Error; spans: number }
  | { kind: 'staleness'; transition: StaleTransition }
  | { kind: 'rejected'; spans: RejectedSpan[] };

export interface FuseboxOptions {
  tenantId: string;
  agentId: string;
  /** 'kafka' (default) or 'http' (the gateway, for agents that cannot reach Kafka). */
  transport?: 'kafka' | 'http';
  /** Kafka bootstrap brokers. Ignored when `log` is given. */
  brokers?: string[];
  /** An event log to use instead of Kafka (the in-memory log of `npm start`, tests). */
  log?: EventLog;
  topicPrefix?: string;
  /** The gateway's base URL, for `transport: 'http'`. */
  url?: string;
  /** An API key of role `agent` (`fbx_...`), for `transport: 'http'`. */
  apiKey?: string;
  /** For `transport: 'http'`: mean time between polls of the tenant's policies (jittered ±20%). Default 10,000 ms. */
  policyPollMs?: number;
  /** Spans per send. Default 500. */
  batchSize?: number;
  /** Longest a span waits for companions before it is sent. Default 5 ms. */
  lingerMs?: number;
  /** Spans held (waiting or in flight) while the transport is unreachable before the oldest are dropped. Default 10,000. */
  maxBuffered?: number;
  /** Fleet tags of this agent, for tag-scoped policies (sent as the `fusebox.agent.tags` attribute). */
  tags?: string[];
  /** Keep call arguments and results on spans (truncated). Off by default: hashes suffice for detection. */
  captureArguments?: boolean;
  /** How long the control plane may go unheard before guard() stops trusting the board. Default 30,000 ms. */
  staleAfterMs?: number;
  /** What guard() does once stale: 'open' (default) keeps allowing actions, 'closed' refuses them all. */
  whenStale?: StaleMode;
  /**
   * How far back (ms) a control partition is read when a run first needs it (Kafka transport),
   * only if the breaker-state topic, where every trip, kill and reset stands, could not be read
   * at start (services older than this client): the trips of a tree a spawned run joins.
   * Default one hour.
   */
  controlLookbackMs?: number;
  /** Warn dispositions, transport trouble, staleness transitions, spans the gateway rejected; never thrown at the agent. */
  onWarning?(warning: FuseboxWarning): void;
  /** Where the client's own log lines go (staleness, rejected spans). Default: stderr. */
  logLine?(line: string): void;
}

const optionsSchema = z.object({
  tenantId: z.string().min(1).max(256),
  agentId: z.string().min(1).max(256),
  transport: z.enum(['kafka', 'http']).default('kafka'),
  url: z.string().url().optional(),
  apiKey: z.string().min(1).optional(),
  policyPollMs: z.number().min(50).default(10_000),
  batchSize: z.number().int().min(1).default(500),
  lingerMs: z.number().min(0).default(5),
  maxBuffered: z.number().int().min(1).default(10_000),
  tags: z.array(z.string().min(1).regex(/^[^,]+$/, 'a tag may not contain a comma')).default([]),
  staleAfterMs: z.number().positive().default(30_000),
  whenStale: z.enum(['open', 'closed']).default('open'),
  controlLookbackMs: z.number().int().min(0).default(CONTROL_LOOKBACK_MS),
}).refine((o) => o.transport !== 'http' || (o.url !== undefined && o.apiKey !== undefined), { message: "transport 'http' needs both url and apiKey", path: ['url'] });

type Settings = z.output<typeof optionsSchema>;

/** What `run.handoff()` returns, checked when it comes back in from another process. */
const handoffSchema = z.object({
  runId: z.string().min(1).max(256),
  treeId: z.string().min(1).max(256),
  parentRunId: z.string().min(1).max(256),
  agentId: z.string().min(1).max(256),
  userId: z.string().min(1).max(256).optional(),
  sessionId: z.string().min(1).max(256).optional(),
  name: z.string().min(1).max(256).optional(),
});

export async function createFusebox(options: FuseboxOptions): Promise<Fusebox> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RangeError(`createFusebox: option ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const settings = parsed.data;
  const logger = createLogger(`fusebox-client ${settings.agentId}`, options.logLine);
  const transport: Transport<unknown> = settings.transport === 'http'
    ? createHttpTransport({
      url: settings.url!, apiKey: settings.apiKey!, policyPollMs: settings.policyPollMs,
      onRejected: (spans) => fusebox.rejected(spans), onPolicyTrouble: (error) => fusebox.policyTrouble(error),
    })
    : logTransport(options, settings, logger) as Transport<unknown>;
  const fusebox = new Fusebox(options, settings, transport, logger);
  try {
    await fusebox.connect();
  } catch (error) {
    await transport.close().catch(() => {});
    throw new TransportUnavailable(`could not connect to ${transport.describe}: ${(error as Error).message}`, { cause: error });
  }
  return fusebox;
}

/** On Kafka of its own (no `log` given) the client produces from a thread of its own; see log-transport.ts. */
function logTransport(options: FuseboxOptions, settings: Settings, logger: Logger) {
  const topics = topicNames(options.topicPrefix);
  const reading = { tenantId: settings.tenantId, controlLookbackMs: settings.controlLookbackMs };
  if (options.log) return createLogTransport(options.log, topics, reading, logger, false);
  const kafka = { brokers: options.brokers ?? ['127.0.0.1:9092'], clientId: `fusebox-agent-${settings.agentId}` };
  return createLogTransport(createKafkaLog(kafka), topics, reading, logger, true, kafka);
}

export interface FuseboxStats extends EmitterStats {
  /** Spans the gateway refused (HTTP transport): each reported to onWarning with its field. */
  rejected: number;
  /** Whether the control plane is currently past the staleness bound. */
  stale: boolean;
}

export class Fusebox implements RunHost {
  readonly tenantId: string;
  readonly tags: readonly string[];
  readonly captureArguments: boolean;
  private readonly board: BreakerBoard = createBreakerBoard();
  private readonly policies;
  private readonly emitter: Emitter<unknown>;
  private readonly staleness: StalenessWatch | null;
  private staleTimer: NodeJS.Timeout | null = null;
  private rejectedCount = 0;
  private closed = false;

  /** @internal use createFusebox */
  constructor(readonly options: FuseboxOptions, private readonly settings: Settings, private readonly transport: Transport<unknown>, private readonly logger: Logger) {
    this.tenantId = settings.tenantId;
    this.tags = Object.freeze([...settings.tags]);
    this.captureArguments = options.captureArguments ?? false;
    this.policies = createCachedPolicies(settings.tenantId);
    this.emitter = createEmitter<unknown>({
      batchSize: settings.batchSize,
      lingerMs: settings.lingerMs,
      maxBuffered: settings.maxBuffered,
      send: (batch) => transport.send(batch),
      retryAfter: (error) => (error instanceof RetryLater ? error.retryAfterMs : undefined),
      onSendError: (error, spans) => this.warn({ kind: 'transport', error, spans }),
    });
    this.staleness = transport.reportsContact ? createStalenessWatch({ boundMs: settings.staleAfterMs, mode: settings.whenStale, nowMs: Date.now() }) : null;
  }

  /** @internal */
  async connect(): Promise<void> {
    await this.transport.start({
      control: (event) => {
        if (this.board.apply(event) && event.action === 'warn') this.warn({ kind: 'control', event });
      },
      released: (scope, target) => this.board.release(scope, target),
      // Local refusals (pre-checks) are this client's own: no control plane lists them.
      openBreakers: (eventIds) => this.board.retain((breaker) => eventIds.has(breaker.event.eventId) || breaker.event.eventId.startsWith(LOCAL_PREFIX)),
      contact: () => {
        const back = this.staleness?.contact(Date.now());
        if (back) this.announce(back);
      },
    }, this.policies);
    if (this.staleness) {
      const watch = this.staleness;
      this.staleTimer = setInterval(() => {
        const gone = watch.evaluate(Date.now());
        if (gone) this.announce(gone);
      }, Math.min(1_000, Math.max(10, this.settings.staleAfterMs / 4)));
      this.staleTimer.unref();
    }
  }

  /** Starts a root run: a new spawn tree. Resolves once trips for it will be heard. */
  async startRun(options: RunOptions = {}): Promise<Run> {
    const runId = `run-${randomUUID()}`;
    return this.openRun({ runId, treeId: runId, parentRunId: null, agentId: this.settings.agentId, ...options });
  }

  /**
   * Opens a child run handed over by `run.handoff()` in another process (or a client that
   * restarted). Resolves once trips for its tree will be heard; it is refused at once if the
   * tree, or the run, tripped or was halted, however long ago (the breaker-state topic).
   */
  async joinRun(handoff: RunHandoff): Promise<Run> {
    const parsed = handoffSchema.safeParse(handoff);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RangeError(`joinRun: handoff.${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return this.openRun(parsed.data);
  }

  /** @internal */
  async openRun(identity: RunIdentity): Promise<Run> {
    if (this.closed) throw new ClientClosed();
    await this.transport.followTree(identity.treeId);
    const run = new Run(this, identity);
    run.record({ kind: 'run_start', name: identity.name ?? identity.agentId, status: 'ok' });
    return run;
  }

  /** @internal see Run.guard */
  guard(run: Run, next: NextAction | undefined): void {
    const open = this.board.size === 0 ? undefined : this.board.check({ runId: run.id, treeId: run.treeId, agentId: run.agentId, tenantId: this.tenantId });
    if (open) {
      const { event } = open;
      throw new RunHalted(run.id, open.scope, event.reason, { id: event.policyId, version: event.policyVersion }, event.action === 'kill' ? 'kill' : 'trip', event.eventId.startsWith(LOCAL_PREFIX) ? 'local' : 'control');
    }
    if (this.staleness?.refusing) {
      const silentForMs = Math.round(this.staleness.silentForMs(Date.now()));
      const reason = { detector: 'staleness', threshold: this.settings.staleAfterMs, observed: silentForMs, windowMs: null, message: `the control plane (${this.transport.describe}) has not been heard for ${silentForMs} ms, above the bound of ${this.settings.staleAfterMs} ms; failing closed` };
      throw new RunHalted(run.id, 'run', reason, { id: null, version: null }, 'trip', 'stale');
    }
    const refusal = checkLocally(this.policies, { tenantId: this.tenantId, agentId: run.agentId, runId: run.id, tags: this.tags }, run.policies, run.steps, next);
    if (refusal) throw new RunHalted(run.id, 'run', refusal.reason, refusal.policy, 'trip', 'local');
  }

  /** @internal see RunHost.haltLocally */
  haltLocally(run: Run, halted: RunHalted): void {
    this.board.apply({
      eventId: `${LOCAL_PREFIX}${run.id}:${halted.reason?.detector}`, tenantId: this.tenantId, scope: 'run', target: run.id, treeId: run.treeId,
      action: 'trip', reason: halted.reason, policyId: halted.policy.id, policyVersion: halted.policy.version, timeMs: Date.now(),
    });
  }

  /**
   * @internal Validates, encodes and queues a span; never blocks. Spans the client built
   * itself have their shape by construction, so only the agent-supplied fields are checked;
   * `full` (custom spans from `run.record`) checks everything against the schema.
   */
  emit(span: SpanEvent, full: boolean): void {
    if (this.closed) throw new ClientClosed();
    let item: unknown;
    try {
      if (full) span = spanEventSchema.parse(span);
      else checkSuppliedFields(span);
      item = this.transport.encode(span);
    } catch (error) {
      if (error instanceof RejectedEvent) throw error;
      if (error instanceof z.ZodError || error instanceof SchemaError || error instanceof Error) throw new RejectedEvent(`span '${String(span.name).slice(0, 80)}' rejected: ${describeIssue(error)}`, { cause: error });
      throw error;
    }
    this.emitter.push(item);
  }

  /** @internal the HTTP transport reports spans the gateway refused */
  rejected(spans: RejectedSpan[]): void {
    this.rejectedCount += spans.length;
    this.logger.warn('the gateway rejected spans; they are not retried', { count: spans.length, first: spans[0] });
    this.warn({ kind: 'rejected', spans });
  }

  /** @internal the HTTP transport could not read or apply the policies; spans are unaffected (`spans: 0`) */
  policyTrouble(error: Error): void {
    this.logger.warn('policies could not be refreshed from the gateway; the ones held stay in force', { error: error.message });
    this.warn({ kind: 'transport', error, spans: 0 });
  }

  stats(): FuseboxStats {
    return { ...this.emitter.stats(), rejected: this.rejectedCount, stale: this.staleness?.stale ?? false };
  }

  /** Flushes what is buffered (up to `deadlineMs`) and disconnects. */
  async close(deadlineMs = 5_000): Promise<{ unsent: number }> {
    if (this.closed) return { unsent: 0 };
    const result = await this.emitter.flush(deadlineMs);
    this.closed = true;
    if (this.staleTimer) clearInterval(this.staleTimer);
    await this.transport.close();
    return result;
  }

  private warn(warning: FuseboxWarning): void {
    try {
      this.options.onWarning?.(warning);
    } catch (error) {
      // The agent's callback must not take the client down with it.
      this.logger.error('onWarning threw', { error: (error as Error).message });
    }
  }

  /** Says loudly, once per transition, what guard() now does. */
  private announce(transition: StaleTransition): void {
    const seconds = (transition.silentForMs / 1000).toFixed(1);
    if (transition.state === 'stale') {
      this.logger.warn(transition.mode === 'open'
        ? `control plane unreachable for ${seconds} s (bound ${transition.boundMs} ms): guard() FAILS OPEN, actions are allowed without new trips; breakers already heard and local pre-checks still hold`
        : `control plane unreachable for ${seconds} s (bound ${transition.boundMs} ms): guard() FAILS CLOSED, every action is refused until it is heard again`, { transport: this.transport.describe });
    } else {
      this.logger.warn(`control plane reachable again after ${seconds} s: guard() answers from the breaker board again`, { transport: this.transport.describe, wasFailing: transition.mode });
    }
    this.warn({ kind: 'staleness', transition });
  }
}

/** Event ids of breakers the client opened itself after a local refusal. */
const LOCAL_PREFIX = 'local:';

function describeIssue(error: unknown): string {
  if (error instanceof z.ZodError) {
    const issue = error.issues[0]!;
    return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
  }
  return (error as Error).message;
}
