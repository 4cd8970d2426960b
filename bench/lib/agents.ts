/**
 * Simulated agents: many concurrent runs on one Fusebox client, taking model and tool steps at
 * a paced total rate through the real client API (`run.llm`, `run.tool`: guard, hashing,
 * validation, encoding, batching). The work itself is instant; only Fusebox's cost remains.
 *
 * They never fail the same tool twice in a run, so no built-in detector should trip them:
 * background load, not subjects. Unless `loopEvery` is set: then one run in that many turns into
 * a runaway at a random step, calling `web_search` with the same arguments and the same error on
 * every step until `RunHalted` stops it, as a real retry loop would (given up after ten times
 * `stepsPerRun` steps, so a pipeline that never trips cannot pile up runaways).
 */
import { RunHalted, type Fusebox, type Run } from '../../client/index.js';
import { seededRandom } from './workload.js';

export interface AgentsOptions {
  /** Spans per second across all runs. */
  rate: number;
  /** Runs in flight at once; a run ends after `stepsPerRun` steps and a new one takes its place. */
  runs: number;
  stepsPerRun?: number;
  seed?: number;
  /** One run in this many loops (see above); unset: none do. */
  loopEvery?: number;
}

export interface AgentsReport {
  /** Spans emitted, counting run_start and run_end. */
  spans: number;
  elapsedMs: number;
  runsStarted: number;
  /** startRun() calls that threw and were retried, and the first one's message. */
  openFailures: number;
  firstOpenError: string | null;
  /** Looping runs whose 3rd identical failing call was emitted: each should trip the loop breaker once. */
  loopsCompleted: number;
  /** The trees (each run is one) of those looping runs, for looking up any that did not trip. */
  loopTrees: string[];
  /** Looping runs stopped by RunHalted. */
  loopsHalted: number;
  /** Per looping run halted: when its 3rd identical call was made (wall clock) and how long until
   *  guard() first threw RunHalted (polled every millisecond from that call on). */
  tripLatencies: Array<{ atMs: number; latencyMs: number }>;
  /** Healthy runs stopped by RunHalted: a false trip. */
  healthyHalted: number;
}

interface Slot {
  run: Run | null;
  steps: number;
  failed: Set<string>;
  /** The step from which this run loops; -1 for a healthy run. */
  loopFrom: number;
  loopCalls: number;
}

/** The runaway's call: same tool, same arguments, same error every time. */
const LOOP_ARGS = Object.freeze({ q: 'quarterly revenue', page: 1 });

const TOOLS = ['web_search', 'fetch_url', 'sql_query', 'read_file', 'vector_search', 'calculator'];

export function simulateAgents(fusebox: Fusebox, options: AgentsOptions) {
  const random = seededRandom(options.seed ?? 7);
  const stepsPerRun = options.stepsPerRun ?? 20;
  const slots: Slot[] = Array.from({ length: options.runs }, () => ({ run: null, steps: 0, failed: new Set<string>(), loopFrom: -1, loopCalls: 0 }));
  let rate = options.rate;
  /** Pacing restarts from here whenever the rate changes. */
  let paceFrom = { at: performance.now(), spans: 0 };
  let loopsCompleted = 0;
  const loopTrees: string[] = [];
  let loopsHalted = 0;
  const tripLatencies: Array<{ atMs: number; latencyMs: number }> = [];
  /** From the 3rd identical call, as the trip-latency scenario does: guard() every millisecond. */
  const watchTrip = (slot: Slot, run: Run) => {
    const atMs = Date.now();
    const offendedAt = performance.now();
    const poll = () => {
      if (!running || slot.run !== run) return;
      try {
        run.guard();
      } catch (error) {
        if (error instanceof RunHalted) tripLatencies.push({ atMs, latencyMs: performance.now() - offendedAt });
        return;
      }
      if (performance.now() - offendedAt < 10_000) setTimeout(poll, 1);
    };
    setTimeout(poll, 1);
  };
  let healthyHalted = 0;
  let spans = 0;
  let runsStarted = 0;
  let sequence = 0;
  let running = true;
  let timer: NodeJS.Timeout | null = null;
  const started = performance.now();

  // Runs are opened one at a time. Concurrent startRun() calls on one client, while their
  // control partition is not followed yet, run concurrent kafkajs admin.fetchTopicOffsets,
  // which can fail with "Cannot destructure property 'partitions'" (kafkajs issue #461); see
  // Findings in BENCHMARKS.md. A failed open is counted and retried on a later tick.
  let opening: Promise<void> = Promise.resolve();
  let openFailures = 0;
  let firstOpenError: string | null = null;
  const open = (slot: Slot) => {
    slot.run = null;
    opening = opening.then(async () => {
      if (!running) return;
      try {
        const run = await fusebox.startRun({ userId: `user-${Math.floor(random() * 1000)}` });
        runsStarted += 1;
        spans += 1; // run_start
        slot.run = run;
        slot.steps = 0;
        slot.failed.clear();
        // Offset by half a period, so even a short run holds loops; 3 identical calls fit before the end.
        const looping = options.loopEvery !== undefined && runsStarted % options.loopEvery === Math.floor(options.loopEvery / 2);
        slot.loopFrom = looping ? 1 + Math.floor(random() * (stepsPerRun - 4)) : -1;
        slot.loopCalls = 0;
      } catch (error) {
        openFailures += 1;
        firstOpenError ??= (error as Error).message;
        setTimeout(() => open(slot), 50).unref();
      }
    });
  };

  // A refused step emitted nothing; the run is over, and its slot takes a new one.
  const halted = (slot: Slot, run: Run) => (error: unknown) => {
    if (!(error instanceof RunHalted) || slot.run !== run) return;
    spans -= 1;
    if (slot.loopFrom >= 0) loopsHalted += 1;
    else healthyHalted += 1;
    run.end('error', 'halted by Fusebox');
    spans += 1; // run_end
    open(slot);
  };

  const step = (slot: Slot) => {
    const run = slot.run!;
    slot.steps += 1;
    sequence += 1;
    spans += 1;
    if (slot.loopFrom >= 0 && slot.steps >= slot.loopFrom) {
      slot.loopCalls += 1;
      if (slot.loopCalls === 3) { loopsCompleted += 1; loopTrees.push(run.treeId); }
      run.tool('web_search', LOOP_ARGS, () => { throw new Error('HTTP 503 Service Unavailable'); }).catch(halted(slot, run));
      if (slot.loopCalls === 3) watchTrip(slot, run); // its span goes out within this tick
    } else if (random() < 0.5) {
      run.llm({ model: 'gpt-4o', provider: 'openai' }, async () => ({ output: 'ok', usage: { inputTokens: 800 + (sequence % 2000), outputTokens: 40, costMicros: 2_500 } })).catch(halted(slot, run));
    } else {
      const tool = TOOLS[sequence % TOOLS.length]!;
      const fail = random() < 0.05 && !slot.failed.has(tool);
      if (fail) slot.failed.add(tool);
      run.tool(tool, { q: `${run.id}/${slot.steps}`, limit: 10 }, () => {
        if (fail) throw new Error('HTTP 503 Service Unavailable');
        return { hits: sequence };
      }).catch(halted(slot, run));
    }
    const lastStep = slot.loopFrom >= 0 ? stepsPerRun * 10 : stepsPerRun;
    if (slot.steps >= lastStep && slot.run === run) {
      run.end();
      spans += 1; // run_end
      open(slot);
    }
  };

  // Paced by elapsed time, not by tick count: a late timer is caught up on the next tick.
  let cursor = 0;
  const tick = () => {
    if (!running) return;
    const due = Math.floor((rate * (performance.now() - paceFrom.at)) / 1000) - (spans - paceFrom.spans);
    for (let i = 0; i < Math.min(due, rate / 10); i++) {
      for (let tries = 0; tries < slots.length; tries++) {
        const slot = slots[cursor]!;
        cursor = (cursor + 1) % slots.length;
        if (slot.run) { step(slot); break; }
      }
    }
    timer = setTimeout(tick, 1);
  };

  return {
    start(): void {
      for (const slot of slots) open(slot);
      tick();
    },
    spans: () => spans,
    /** A new total rate from now on; what was due before is not caught up. */
    setRate(next: number): void {
      rate = next;
      paceFrom = { at: performance.now(), spans };
    },
    stop(): AgentsReport {
      running = false;
      if (timer) clearTimeout(timer);
      for (const slot of slots) if (slot.run) { slot.run.end(); spans += 1; }
      return { spans, elapsedMs: performance.now() - started, runsStarted, openFailures, firstOpenError, loopsCompleted, loopTrees, loopsHalted, tripLatencies, healthyHalted };
    },
  };
}
