/**
 * A run: one agent execution inside a spawn tree. Its wrappers turn a tool or a model call
 * into a guarded, emitted span; `guard()` is the "may I?" asked before every action.
 */
import { randomUUID } from 'node:crypto';
import { spanEventSchema, type SpanEvent, type SpanKind } from '../schemas/index.js';
import { compileFastParser, NOT_ACCEPTED } from '../schemas/fast-parse.js';
import { canonicalHash } from '../streams/canonical.js';
import { isStep } from '../streams/detectors/iteration-cap.js';
import { TAGS_ATTRIBUTE } from '../streams/engine.js';
import { RejectedEvent, RunHalted } from './errors.js';
import { randomId } from './ids.js';
import { emptyRunPolicies, type NextAction, type RunPolicies } from './local-checks.js';

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

export interface ModelCall {
  model: string;
  provider?: string;
  /** The span's name; the model by default. */
  name?: string;
}

export interface RunIdentity extends RunOptions {
  runId: string;
  treeId: string;
  parentRunId: string | null;
  agentId: string;
}

/** A child run handed to another process (`run.handoff()`, `fusebox.joinRun()`). */
export type RunHandoff = RunIdentity & { parentRunId: string };

/** The edge kinds a signal can record (a spawn is `run.spawn()`). */
export type SignalEdge = 'signal_fire' | 'domain_callback' | 'cross_session_bridge';

/** What a run needs of its client; the client implements it. */
export interface RunHost {
  readonly tenantId: string;
  readonly tags: readonly string[];
  readonly captureArguments: boolean;
  /** Throws RunHalted when the action may not start (breakers, staleness, local pre-checks). */
  guard(run: Run, next: NextAction | undefined): void;
  /** Opens the run's breaker here and now, as the processor will on seeing the refused attempt. */
  haltLocally(run: Run, halted: RunHalted): void;
  /** Queues a span built by the client itself: only agent-supplied fields are checked. */
  emit(span: SpanEvent, full: boolean): void;
  openRun(identity: RunIdentity): Promise<Run>;
}

const ARGUMENT_LIMIT = 4096;
const REFUSED_ATTRIBUTE = 'fusebox.refused';

/** The fields an agent supplies to the wrappers; everything else the client fills itself. */
const SUPPLIED_FIELDS = ['name', 'model', 'provider', 'inputTokens', 'outputTokens', 'cachedTokens', 'costMicros'] as const;
type SuppliedField = (typeof SUPPLIED_FIELDS)[number];

/**
 * A fast test per supplied field, compiled from the span schema itself (schemas/fast-parse.ts)
 * so the two cannot disagree: zod on every span cost more than the Avro encode. Anything the
 * fast test refuses is parsed by zod for the exact message.
 */
const fastChecks: ReadonlyArray<[SuppliedField, (value: unknown) => boolean]> = SUPPLIED_FIELDS.map((field) => {
  const parse = compileFastParser(spanEventSchema.shape[field]);
  return [field, (value: unknown) => parse(value) !== NOT_ACCEPTED];
});

/** Checks the agent-supplied fields of a client-built span; throws RejectedEvent naming the field. */
export function checkSuppliedFields(span: SpanEvent): void {
  for (const [field, test] of fastChecks) {
    if (test(span[field])) continue;
    const result = spanEventSchema.shape[field].safeParse(span[field]);
    if (!result.success) throw new RejectedEvent(`span '${String(span.name).slice(0, 80)}' rejected: ${field}: ${result.error.issues[0]!.message}`);
  }
}

export class Run {
  readonly id: string;
  readonly treeId: string;
  readonly parentRunId: string | null;
  readonly agentId: string;
  /** @internal the run's cached governing policies */
  readonly policies: RunPolicies = emptyRunPolicies();
  private readonly userId: string | null;
  private readonly sessionId: string | null;
  private readonly attributes: Record<string, string>;
  private stepsTaken = 0;

  /** @internal use fusebox.startRun() or run.spawn() */
  constructor(private readonly host: RunHost, identity: RunIdentity) {
    this.id = identity.runId;
    this.treeId = identity.treeId;
    this.parentRunId = identity.parentRunId;
    this.agentId = identity.agentId;
    this.userId = identity.userId ?? null;
    this.sessionId = identity.sessionId ?? null;
    this.attributes = host.tags.length > 0 ? { [TAGS_ATTRIBUTE]: host.tags.join(',') } : {};
  }

  /** Steps this run has taken (every span but run_start and run_end), as the processor counts them. */
  get steps(): number {
    return this.stepsTaken;
  }

  /**
   * Throws RunHalted if the run may not take its next action: a breaker covering it is open
   * (run, tree, agent, tenant), the next step is beyond the iteration cap, `next` names a tool
   * outside the allowed set, or the control plane is stale and the client fails closed.
   * Synchronous, from local state only.
   */
  guard(next?: NextAction): void {
    this.host.guard(this, next);
  }

  /** Runs a tool under the breaker: guard first, then a tool_call span with the outcome. */
  async tool<T>(name: string, args: unknown, fn: () => Promise<T> | T): Promise<T> {
    const argsHash = canonicalHash(args);
    this.guardAttempt({ kind: 'tool_call', name, argsHash });
    const startTimeMs = Date.now();
    const capturedArgs = this.capture(args);
    try {
      const result = await fn();
      this.emit({ kind: 'tool_call', name, status: 'ok', startTimeMs, argsHash, args: capturedArgs, outputHash: canonicalHash(result), output: this.capture(result) });
      return result;
    } catch (error) {
      const message = describeError(error);
      this.emit({ kind: 'tool_call', name, status: 'error', error: message, startTimeMs, argsHash, args: capturedArgs, outputHash: canonicalHash({ error: message }) });
      throw error;
    }
  }

  /**
   * A tool function turned into a guarded one: same arguments, same result, a tool_call span
   * per call (arguments hashed canonically: one argument as itself, several as an array).
   */
  wrapTool<A extends unknown[], R>(name: string, fn: (...args: A) => R | Promise<R>): (...args: A) => Promise<R> {
    return (...args: A) => this.tool(name, args.length === 1 ? args[0] : args, () => fn(...args));
  }

  /** Runs a model call under the breaker: guard first, then an llm_call span with its usage. */
  async llm<T>(call: ModelCall, fn: () => Promise<{ output: T; usage: LlmUsage }>): Promise<T> {
    const wrapped = this.wrapModel(call, fn, (result) => result.usage);
    return (await wrapped()).output;
  }

  /**
   * A model-calling function turned into a guarded one that returns what it returns; `usage`
   * reads the tokens (and cost, if known) from its result, e.g. `(r) => ({ inputTokens:
   * r.usage.promptTokens, outputTokens: r.usage.completionTokens })`.
   */
  wrapModel<A extends unknown[], R>(call: ModelCall, fn: (...args: A) => PromiseLike<R>, usage: (result: R) => LlmUsage): (...args: A) => Promise<R> {
    const name = call.name ?? call.model;
    return async (...args: A) => {
      this.guardAttempt({ kind: 'llm_call', name, model: call.model, provider: call.provider ?? null });
      const startTimeMs = Date.now();
      let result: R;
      try {
        result = await fn(...args);
      } catch (error) {
        this.emit({ kind: 'llm_call', name, status: 'error', error: describeError(error), startTimeMs, model: call.model, provider: call.provider ?? null });
        throw error;
      }
      const used = usage(result);
      this.emit({
        kind: 'llm_call', name, status: 'ok', startTimeMs, model: call.model, provider: call.provider ?? null,
        inputTokens: used.inputTokens, outputTokens: used.outputTokens, cachedTokens: used.cachedTokens ?? 0, costMicros: used.costMicros ?? null,
      });
      return result;
    };
  }

  /** Starts a child run in the same spawn tree and records the spawn edge (parent -> child). */
  async spawn(options: RunOptions & { agentId?: string } = {}): Promise<Run> {
    return this.host.openRun(this.handoff(options));
  }

  /**
   * A child run for another process to run (a worker, a sub-agent behind a queue): records the
   * spawn edge as `spawn` does and returns the child's identity, plain data to pass along
   * however the agents talk, for `fusebox.joinRun` there. The child belongs to this spawn tree:
   * its tree's breakers, its budget, its trips, however long ago the tree tripped.
   */
  handoff(options: RunOptions & { agentId?: string } = {}): RunHandoff {
    const childId = `run-${randomUUID()}`;
    const agentId = options.agentId ?? this.agentId;
    this.guardAttempt({ kind: 'spawn', name: options.name ?? agentId });
    this.emit({ kind: 'spawn', name: options.name ?? agentId, status: 'ok', edge: { kind: 'spawn', targetRunId: childId, targetTreeId: this.treeId } });
    const handoff: RunHandoff = { runId: childId, treeId: this.treeId, parentRunId: this.id, agentId };
    const userId = options.userId ?? this.userId;
    const sessionId = options.sessionId ?? this.sessionId;
    if (userId !== null) handoff.userId = userId;
    if (sessionId !== null) handoff.sessionId = sessionId;
    if (options.name !== undefined) handoff.name = options.name;
    return handoff;
  }

  /**
   * Records a causal edge to another run that this run set going without spawning it: a
   * signal fired, a callback into another domain, a bridge to another session's run.
   */
  signal(name: string, target: { runId: string; treeId?: string; edge?: SignalEdge }): void {
    this.guardAttempt({ kind: 'signal', name });
    this.emit({ kind: 'signal', name, status: 'ok', edge: { kind: target.edge ?? 'signal_fire', targetRunId: target.runId, targetTreeId: target.treeId ?? null } });
  }

  /** Records the end of the run. */
  end(status: 'ok' | 'error' = 'ok', error?: string): void {
    this.emit({ kind: 'run_end', name: this.agentId, status, error: error === undefined ? null : error.slice(0, ARGUMENT_LIMIT) });
  }

  /** A custom span (or any other kind): identity and time filled in, then checked whole against the schema. */
  record(span: Partial<SpanEvent> & Pick<SpanEvent, 'kind' | 'name'>): void {
    this.host.emit(this.build(span), true);
    if (isStep(span.kind)) this.stepsTaken += 1;
  }

  /**
   * Guards an attempt. A refusal by the local pre-check is recorded as the attempt it refused
   * (marked `fusebox.refused`), so the processor makes the same decision, opens the same
   * breaker and writes the audit record; until its trip arrives the run is halted here.
   */
  private guardAttempt(attempt: Pick<SpanEvent, 'kind' | 'name'> & Partial<SpanEvent>): void {
    try {
      this.host.guard(this, { kind: attempt.kind, name: attempt.name });
    } catch (error) {
      if (error instanceof RunHalted && error.origin === 'local') {
        this.emit({ ...attempt, status: 'error', error: error.message.slice(0, ARGUMENT_LIMIT), attributes: { ...this.attributes, [REFUSED_ATTRIBUTE]: error.reason?.detector ?? 'local' } });
        this.host.haltLocally(this, error);
      }
      throw error;
    }
  }

  private emit(span: Partial<SpanEvent> & { kind: SpanKind; name: string }): void {
    this.host.emit(this.build(span), false);
    if (isStep(span.kind)) this.stepsTaken += 1;
  }

  private build(span: Partial<SpanEvent> & Pick<SpanEvent, 'kind' | 'name'>): SpanEvent {
    const endTimeMs = Date.now();
    return {
      eventId: randomId(),
      tenantId: this.host.tenantId,
      agentId: this.agentId,
      runId: this.id,
      parentRunId: this.parentRunId,
      treeId: this.treeId,
      spanId: randomId(),
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
      attributes: span.attributes ? { ...this.attributes, ...span.attributes } : this.attributes,
    };
  }

  private capture(value: unknown): string | null {
    if (!this.host.captureArguments) return null;
    const text = JSON.stringify(value) ?? 'null';
    return text.length > ARGUMENT_LIMIT ? `${text.slice(0, ARGUMENT_LIMIT)}…` : text;
  }
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.slice(0, ARGUMENT_LIMIT);
}
