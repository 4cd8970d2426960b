/**
 * A realistic span workload, encoded exactly as the client encodes the spans it builds (Avro
 * single-object), for scenarios that preload a topic instead of emitting through agents.
 *
 * Shape: many tenants and agents; each spawn tree is a root run of 4 to 20 steps (model calls,
 * tool calls with fresh arguments, the odd retrieval), a fifth of them spawning a child run in
 * the same tree. About one tree in `loopEvery` loops: its root run makes the same failing tool
 * call three times in a row, which must trip the loop breaker exactly once. Trees are
 * interleaved the way concurrent agents interleave, while each tree keeps its own order.
 *
 * Structure comes from a seeded generator so runs compare; ids are random UUIDs, as the
 * client's are, so their bytes are realistic.
 */
import { randomUUID } from 'node:crypto';
import { spanEventCodec, type SpanEvent } from '../../schemas/index.js';
import { canonicalHash } from '../../streams/canonical.js';

export interface WorkloadOptions {
  spans: number;
  /** One looping tree in this many. Default 1000. */
  loopEvery?: number;
  /** Trees in flight at once, interleaved. Default 200. */
  concurrentTrees?: number;
  seed?: number;
}

/** A keyed, encoded span: what the client hands the producer. */
export interface EncodedSpan {
  key: string;
  value: Buffer;
}

export interface Workload {
  messages: EncodedSpan[];
  trees: number;
  loopingTrees: number;
  /** Trees whose runaway reached its 3rd identical failing call within these messages: the ones
   *  a loop detector must trip (a looping tree started near the end may be cut off before it). */
  loopedTreeIds: ReadonlySet<string>;
  bytes: number;
}

const TENANTS = 25;
const AGENTS_PER_TENANT = 8;
const TOOLS = ['web_search', 'fetch_url', 'sql_query', 'read_file', 'write_file', 'send_email', 'calculator', 'vector_search'];
const MODELS = [['gpt-4o', 'openai'], ['gpt-4o-mini', 'openai'], ['claude-sonnet-4', 'anthropic'], ['gemini-2.5-pro', 'google']] as const;
const TOOL_ERROR = 'Error: HTTP 503 Service Unavailable';

/** mulberry32: tiny, fast, good enough to shape a workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildWorkload(options: WorkloadOptions): Workload {
  const random = seededRandom(options.seed ?? 42);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const loopEvery = options.loopEvery ?? 1000;
  const active: Array<Generator<SpanEvent>> = [];
  const messages: EncodedSpan[] = [];
  let trees = 0;
  let loopingTrees = 0;
  const loopedTreeIds = new Set<string>();
  let bytes = 0;
  let clock = Date.now() - 3_600_000;

  const startTree = () => {
    trees += 1;
    // Offset by half a period so even a short run holds looping trees.
    const looping = trees % loopEvery === Math.floor(loopEvery / 2);
    if (looping) loopingTrees += 1;
    const tenant = int(0, TENANTS - 1);
    active.push(tree({ tenantId: `tenant-${String(tenant).padStart(3, '0')}`, agentId: `agent-${int(0, AGENTS_PER_TENANT - 1)}`, looping, random, int, now: () => (clock += int(5, 50)), onLoopComplete: (treeId) => loopedTreeIds.add(treeId) }));
  };

  while (messages.length < options.spans) {
    while (active.length < (options.concurrentTrees ?? 200)) startTree();
    const index = int(0, active.length - 1);
    const next = active[index]!.next();
    if (next.done) {
      active.splice(index, 1);
      continue;
    }
    const event = next.value;
    // Encoded as built, as the client encodes the spans it builds itself: every field is set, so
    // the zod mirror's parse (a fifth of the time to build a workload) gives the same bytes;
    // checked on 400,000 spans of two seeds when it was dropped.
    const value = spanEventCodec.encode(event);
    bytes += value.length;
    messages.push({ key: event.treeId, value });
  }
  return { messages, trees, loopingTrees, loopedTreeIds, bytes };
}

interface TreeOptions {
  tenantId: string;
  agentId: string;
  looping: boolean;
  random: () => number;
  int: (min: number, max: number) => number;
  now: () => number;
  /** Called as the runaway's 3rd failing call is produced: every value produced is kept. */
  onLoopComplete: (treeId: string) => void;
}

function* tree(o: TreeOptions): Generator<SpanEvent> {
  const treeId = `run-${randomUUID()}`;
  const userId = o.random() < 0.7 ? `user-${o.int(1, 5000)}` : null;
  const sessionId = userId ? `sess-${o.int(1, 20000)}` : null;
  yield* run({ ...o, treeId, runId: treeId, parentRunId: null, agentId: o.agentId, userId, sessionId, depth: 0 });
}

function* run(o: TreeOptions & { treeId: string; runId: string; parentRunId: string | null; userId: string | null; sessionId: string | null; depth: number }): Generator<SpanEvent> {
  const base = (kind: SpanEvent['kind'], name: string, durationMs: number): SpanEvent => {
    const end = o.now();
    return {
      eventId: randomUUID(), tenantId: o.tenantId, agentId: o.agentId, runId: o.runId, parentRunId: o.parentRunId, treeId: o.treeId,
      spanId: randomUUID(), parentSpanId: null, kind, name, status: 'ok', error: null, startTimeMs: end - durationMs, endTimeMs: end,
      model: null, provider: null, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: null, argsHash: null, args: null,
      outputHash: null, output: null, userId: o.userId, sessionId: o.sessionId, edge: null, attributes: {},
    };
  };
  const llm = (): SpanEvent => {
    const [model, provider] = MODELS[o.int(0, MODELS.length - 1)]!;
    const input = o.int(300, 8000);
    const output = o.int(20, 800);
    return { ...base('llm_call', model, o.int(400, 4000)), model, provider, inputTokens: input, outputTokens: output, cachedTokens: o.random() < 0.3 ? o.int(0, input) : 0, costMicros: Math.round(input * 2.5 + output * 10) };
  };
  const tool = (name: string, args: unknown, failed: boolean): SpanEvent => {
    const span = base('tool_call', name, o.int(50, 1500));
    return failed
      ? { ...span, status: 'error', error: TOOL_ERROR, argsHash: canonicalHash(args), outputHash: canonicalHash({ error: TOOL_ERROR }) }
      : { ...span, argsHash: canonicalHash(args), outputHash: canonicalHash({ ok: o.int(0, 1e9) }) };
  };

  yield { ...base('run_start', o.agentId, 0) };
  // A healthy run fails each tool at most once, so no failure streak of any length trips it; a
  // looping tree fails nothing but its loop, so the loop detector, not a streak, is what trips.
  const failedTools = new Set<string>();
  const steps = o.int(4, 20);
  const loopAt = o.looping && o.depth === 0 ? o.int(1, steps - 1) : -1;
  for (let step = 0; step < steps; step++) {
    if (step === loopAt) {
      // The runaway: think, call the same tool with the same arguments, fail the same way; three times.
      const args = { q: `quarterly revenue ${o.treeId}`, page: 1 };
      for (let attempt = 0; attempt < 3; attempt++) {
        yield llm();
        if (attempt === 2) o.onLoopComplete(o.treeId);
        yield tool('web_search', args, true);
      }
      yield { ...base('run_end', o.agentId, 0), status: 'error', error: 'halted by Fusebox' };
      return;
    }
    const roll = o.random();
    if (roll < 0.52) yield llm();
    else if (roll < 0.94) {
      const name = TOOLS[o.int(0, TOOLS.length - 1)]!;
      const failed = o.random() < 0.05 && !failedTools.has(name) && !o.looping;
      if (failed) failedTools.add(name);
      yield tool(name, { q: `${o.runId}/${step}`, limit: o.int(1, 50) }, failed);
    }
    else if (roll < 0.98 || o.depth > 0) yield { ...base('retrieval', 'docs-index', o.int(20, 200)), argsHash: canonicalHash({ step }) };
    else {
      const childId = `run-${randomUUID()}`;
      yield { ...base('spawn', 'summarizer', 0), edge: { kind: 'spawn', targetRunId: childId, targetTreeId: o.treeId } };
      yield* run({ ...o, runId: childId, parentRunId: o.runId, agentId: `${o.agentId}-sub`, depth: o.depth + 1 });
    }
  }
  yield { ...base('run_end', o.agentId, 0) };
}
