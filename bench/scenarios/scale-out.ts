/**
 * Scale-out: one, two and three processor instances (separate processes, one consumer group) on
 * a 6-partition spans topic, and the pause when one of three leaves under steady load.
 *
 * Throughput: for each instance count, fresh topics are preloaded with the same realistic
 * workload (lib/workload.ts, 1 tree in 1,000 looping), then that many processors start at once
 * in one group and drain it. The total is the whole log over the time from the first batch any
 * instance handled until the group had committed all of it (read every 100 ms from this
 * process), joins and rebalances included: the stage commits everything folded while its last
 * transaction was in flight, so commits of a preloaded topic are few and large and a short
 * window of committed progress says little. Beside it, what each instance handled per second
 * in the 500 ms buckets in which all were busy, and the spans each handled in all (spans
 * redelivered after a rebalance count again there; the stage skips what it already folded).
 * Trips are read back from the control topic: the same trees for every count, each once.
 *
 * Rebalance pause: three processors run on fresh topics while simulated agents emit a steady
 * 5,000 spans/s through their clients (1 tree in 1,000 looping). This process reads the group's
 * committed offsets of every partition every 50 ms (group-progress.ts): a processor commits the
 * group's offsets after each transaction, so a partition's offset advancing is its progress.
 * Before each move the group must be settled: its coordinator (DescribeGroups, each instance
 * named by its own client id) shows it Stable with exactly the running instances, each owning
 * partitions, and every partition has moved since. So the instance that leaves provably owns
 * partitions and has committed on them; one holding none would stall nothing, and the stall its
 * death causes later (a SIGKILLed member stays listed until its 10 s session timeout, and no
 * rebalance completes without it) would be booked under the next move. It is stopped gracefully
 * (`stop()`: it leaves the group) or with SIGKILL; once its process has exited, the group must
 * settle again without it, and the pause is the longest stretch, on any partition, without
 * committed progress that overlaps the time from the move until then. A replacement then joins,
 * measured the same way from its start until the group has settled with it owning partitions.
 * The longest gap in the seconds between the group settling and the move is the baseline.
 * Afterwards the control topic must hold one run trip per looping tree (loop, or failure streak
 * when an earlier call of the same tool failed): none lost or doubled by the moves.
 *
 * Caveats: on 2 cores three processors share the CPU with the broker and the agents, so more
 * instances add coordination, not cores; the figure says what a rebalance costs and whether
 * partitions spread, not how Fusebox scales on a bigger machine. Pauses are resolved to the 50 ms
 * sampling interval plus one admin round trip.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { controlEventCodec } from '../../schemas/index.js';
import type { WorkerHandle } from '../lib/child.js';
import { groupMembers, settledWith, type GroupMembers } from '../lib/group-members.js';
import { groupProgress, total, type ProgressSample } from '../lib/group-progress.js';
import { deleteTopics, freshTopics, PRELOAD, produceRaw, readAll } from '../lib/kafka.js';
import { startAgents, startProcessor } from '../lib/pipeline.js';
import { figure, latencyFigure, type Figure } from '../lib/results.js';
import { distribution } from '../lib/stats.js';
import { buildWorkload, type Workload } from '../lib/workload.js';
import { describeKafkajsErrors, TIMELINE_BUCKET_MS, type DrainResult } from '../workers/drain.js';
import { sized, type BenchContext, type ScenarioOutput } from './scenario.js';

const PARTITIONS = 6;
/**
 * Short mode (the whole `--short` run must stay under 3 minutes) leaves two instances out and
 * makes one graceful move: a SIGKILL costs the 10 s session timeout and a settle, ~25 s.
 */
const INSTANCE_COUNTS = { full: [1, 2, 3], short: [1, 3] };
const PAUSE_LOAD_RATE = 5_000;
const SAMPLE_EVERY_MS = 50;

export async function run(ctx: BenchContext): Promise<ScenarioOutput> {
  const count = sized(ctx, 300_000, 40_000);
  ctx.progress(`encoding ${count.toLocaleString('en-US')} realistic spans`);
  const workload = buildWorkload({ spans: count, seed: 6 });
  ctx.progress(`  ${workload.trees.toLocaleString('en-US')} trees, ${workload.loopedTreeIds.size} of them looping to their 3rd call`);
  const figures: Figure[] = [];
  const notes: string[] = [];
  let single = Number.NaN;
  const tripsByCount: string[] = [];
  for (const instances of sized(ctx, INSTANCE_COUNTS.full, INSTANCE_COUNTS.short)) {
    const drained = await drainWith(ctx, workload, instances);
    single = instances === 1 ? drained.committedRate : single;
    tripsByCount.push(`${instances}: ${drained.trippedTrees} trees, ${drained.loopTrips} trips`);
    const looped = workload.loopedTreeIds.size;
    if (drained.trippedTrees !== looped || drained.loopTrips !== looped) notes.push(`MISMATCH with ${instances} instance(s): ${drained.trippedTrees} trees tripped by ${drained.loopTrips} trips; ${looped} trees loop to their 3rd call, each to be tripped once.`);
    figures.push(
      figure(`${instances} instance${instances > 1 ? 's' : ''}: committed, total`, drained.committedRate, 'events/s', `the whole log, first batch handled to all committed (joins included)${instances > 1 ? `; ${(drained.committedRate / single).toFixed(2)}x one instance` : ''}; first batch to last handled ${fmt(drained.wholeRate)}/s`),
      figure(`${instances} instance${instances > 1 ? 's' : ''}: per instance`, drained.committedRate / instances, 'events/s', `each handled, over ${drained.steadySeconds.toFixed(1)} s with all busy: ${drained.perInstance.map(fmt).join(', ')}/s; spans handled in all (redeliveries after rebalances included): ${drained.counts.map(fmt).join(', ')}`),
    );
    if (drained.kafkajs) notes.push(`${instances} instances: ${drained.kafkajs}.`);
  }
  notes.push(`Loop trips on the control topic by instance count (${workload.loopedTreeIds.size} trees in the workload loop to their 3rd call): ${tripsByCount.join('; ')}.`);

  const pauses = await rebalancePauses(ctx, sized(ctx, { graceful: 3, kill: 2 }, { graceful: 1, kill: 0 }));
  figures.push(...pauses.figures);
  notes.push(...pauses.notes);
  return { figures, notes };
}

interface Drained {
  committedRate: number;
  steadySeconds: number;
  wholeRate: number;
  perInstance: number[];
  counts: number[];
  trippedTrees: number;
  loopTrips: number;
  kafkajs: string | null;
}

async function drainWith(ctx: BenchContext, workload: Workload, instances: number): Promise<Drained> {
  const bench = await freshTopics(ctx.brokers, 'scaleout', PARTITIONS);
  const group = `${bench.prefix}-processor`;
  const progress = await groupProgress(ctx.brokers, bench.topics.spans);
  const workers: Array<WorkerHandle<DrainResult>> = [];
  try {
    ctx.progress(`${instances} instance(s): preloading ${bench.topics.spans}`);
    await produceRaw(ctx.brokers, bench.topics.spans, workload.messages, { partitions: PARTITIONS, ...PRELOAD });
    ctx.progress(`${instances} instance(s): starting them in one group, draining`);
    for (let i = 0; i < instances; i++) workers.push(startProcessor(ctx, bench.prefix, group, `processor ${i + 1}/${instances}`));
    const until = Date.now() + sized(ctx, 150_000, 60_000);
    let doneAt = Number.NaN;
    for (let lastReport = 0; Date.now() < until;) {
      const sample = await progress.sample([group]);
      const done = total(sample.committed[group]!);
      if (done >= total(sample.end)) {
        doneAt = sample.atMs;
        break;
      }
      if (done - lastReport >= workload.messages.length / 4) { lastReport = done; ctx.progress(`  ${fmt(done)} of ${fmt(total(sample.end))} committed`); }
      await sleep(100);
    }
    for (const w of workers) w.stop();
    const results = await Promise.all(workers.map((w) => w.result));
    const steady = steadyWindow(results.map((r) => r.timeline));
    const first = Math.min(...results.map((r) => r.timeline[0]?.[0] ?? Infinity));
    const last = Math.max(...results.map((r) => r.timeline.at(-1)?.[0] ?? 0)) + TIMELINE_BUCKET_MS;
    const controls = (await readAll(ctx.brokers, bench.topics.control)).map((m) => controlEventCodec.decode(m.value!)).filter((c) => c.reason?.detector === 'loop');
    const drained: Drained = {
      // The stage commits everything folded while its previous transaction was in flight, so
      // under a preloaded topic commits are few and large: committed progress sampled over a
      // short window says little. The rate is the whole log over the time from the first batch
      // handled to the group having committed it all (joins and rebalances included).
      committedRate: workload.messages.length / ((doneAt - first) / 1000),
      steadySeconds: steady.seconds,
      wholeRate: workload.messages.length / ((last - first) / 1000),
      perInstance: steady.spans.map((x) => x / steady.seconds),
      counts: results.map((r) => r.count),
      trippedTrees: new Set(controls.map((c) => c.treeId)).size,
      loopTrips: controls.length,
      kafkajs: results.map((r, i) => { const d = describeKafkajsErrors(r.kafkajsErrors); return d ? `instance ${i + 1}: ${d}` : null; }).filter(Boolean).join('; ') || null,
    };
    ctx.progress(`  ${fmt(drained.committedRate)} spans/s committed in all; handled with all busy: ${drained.perInstance.map(fmt).join(' + ')} over ${drained.steadySeconds.toFixed(1)} s`);
    return drained;
  } finally {
    for (const w of workers) w.kill();
    await progress.close().catch(() => {});
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
  }
}

/**
 * The buckets in which every instance handled spans, without the first and last of them; per
 * instance, the spans in those buckets. With too few such buckets, the whole drain instead.
 */
function steadyWindow(timelines: Array<Array<[number, number]>>): { spans: number[]; seconds: number; fromMs: number; toMs: number } {
  const maps = timelines.map((t) => new Map(t));
  const shared = [...maps[0]!.keys()].filter((bucket) => maps.every((m) => (m.get(bucket) ?? 0) > 0)).sort((a, b) => a - b);
  const inner = shared.slice(1, -1);
  // Buckets need not be contiguous (an instance idle for a moment): the window spans them all.
  const window = inner.length >= 2 ? inner : timelines.flat().map(([b]) => b).sort((a, b) => a - b);
  const [fromMs, toMs] = [window[0]!, window.at(-1)! + TIMELINE_BUCKET_MS];
  const inWindow = (b: number) => b >= fromMs && b < toMs;
  return { spans: timelines.map((t) => t.filter(([b]) => inWindow(b)).reduce((n, [, x]) => n + x, 0)), seconds: (toMs - fromMs) / 1000, fromMs, toMs };
}

type Move = 'graceful' | 'kill' | 'join';

/** How long the group may take to settle after a move before the scenario says so and goes on. */
const SETTLE_TIMEOUT_MS = 40_000;

interface Instance {
  worker: WorkerHandle<DrainResult>;
  /** Its Kafka client id: how the group coordinator names it. */
  id: string;
  label: string;
}

async function rebalancePauses(ctx: BenchContext, reps: { graceful: number; kill: number }): Promise<{ figures: Figure[]; notes: string[] }> {
  const bench = await freshTopics(ctx.brokers, 'scaleout-pause', PARTITIONS);
  const group = `${bench.prefix}-processor`;
  const progress = await groupProgress(ctx.brokers, bench.topics.spans);
  const members = await groupMembers(ctx.brokers, group, bench.topics.spans);
  const live: Instance[] = [];
  let started = 0;
  const launch = (): Instance => {
    started += 1;
    const instance = { id: `${group}-m${started}`, label: `processor #${started}`, worker: null as unknown as WorkerHandle<DrainResult> };
    instance.worker = startProcessor(ctx, bench.prefix, group, instance.label, instance.id);
    live.push(instance);
    return instance;
  };
  const agents = startAgents(ctx, 1, { prefix: bench.prefix, rate: PAUSE_LOAD_RATE, clients: 4, runsPerClient: 25, agentsPerTenant: 2, loopEvery: 1_000 });
  const samples: ProgressSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try { samples.push(await progress.sample([group])); } catch { /* skipped; the next one counts */ }
      await sleep(SAMPLE_EVERY_MS);
    }
  })();
  const unsettled: string[] = [];
  /**
   * Waits until the coordinator shows the group Stable with exactly the live instances, each
   * owning partitions (no rebalance pending, no dead member still listed), and then until every
   * partition's committed offset has moved after that: every owner has committed progress in
   * this generation. Returns that moment and who owns what (past the timeout: now, noted).
   */
  const settled = async (what: string): Promise<{ atMs: number; owners: Map<string, number[]> }> => {
    const until = Date.now() + SETTLE_TIMEOUT_MS;
    let last: GroupMembers | null = null;
    while (Date.now() < until) {
      last = await members.describe().catch(() => last);
      if (last && settledWith(last, live.map((i) => i.id))) {
        const moved = await allAdvancedSince(samples, last.atMs, until - Date.now());
        if (moved !== null) return { atMs: moved, owners: last.owners };
        break;
      }
      await sleep(SAMPLE_EVERY_MS);
    }
    const owners = [...(last?.owners ?? [])].map(([id, ps]) => `${live.find((i) => i.id === id)?.label ?? 'a member no longer running'}: [${ps.join(', ')}]`).join('; ');
    unsettled.push(`${what}: the group had not settled (all ${live.length} instances owning partitions, every partition moving) within ${SETTLE_TIMEOUT_MS / 1000} s; coordinator: ${last?.state ?? 'no answer'}, ${owners || 'no members'}`);
    return { atMs: Date.now(), owners: last?.owners ?? new Map() };
  };
  const measured: Record<Move, number[]> = { graceful: [], kill: [], join: [] };
  const baselines: number[] = [];
  const stopped: DrainResult[] = [];
  const moveLines: string[] = [];
  try {
    ctx.progress(`rebalance: 3 processors in one group, agents at ${fmt(PAUSE_LOAD_RATE)} spans/s`);
    await Promise.all([launch().worker.ready, launch().worker.ready, launch().worker.ready, agents.ready()]);
    const moves: Array<'graceful' | 'kill'> = [...Array<'graceful'>(reps.graceful).fill('graceful'), ...Array<'kill'>(reps.kill).fill('kill')];
    for (const [index, move] of moves.entries()) {
      // Steady first: settled, then a while of undisturbed progress (the baseline).
      const calm = await settled(`before move ${index + 1}`);
      await sleep(sized(ctx, 3_000, 2_000));
      // The one to leave must provably own partitions and have committed on them, or its move
      // stalls nothing and the stall it causes later is booked under the next move.
      const before = await settled(`before move ${index + 1}`);
      const leaving = live.shift()!;
      const owned = before.owners.get(leaving.id) ?? [];
      const t0 = Date.now();
      if (move === 'graceful') leaving.worker.stop();
      else leaving.worker.kill();
      // Gone for good (a graceful one after its last commit) before its successors' progress is looked for.
      const result = await leaving.worker.result.catch(() => null); // a killed worker reports nothing
      if (result) stopped.push(result);
      const resumed = await settled(`after the ${move === 'kill' ? 'SIGKILL' : 'graceful stop'} of ${leaving.label}`);
      const pause = longestStall(samples, t0, resumed.atMs);
      // From just after the settling sample: the gap it closed belongs to what came before.
      baselines.push(longestStall(samples, calm.atMs + 1, before.atMs));
      measured[move].push(pause);
      const name = move === 'kill' ? 'SIGKILL' : 'graceful stop';
      ctx.progress(`  ${name} of ${leaving.label} (owned partitions ${owned.join(', ')}): longest stall ${fmt(pause)} ms (baseline before it ${fmt(baselines.at(-1)!)} ms)`);

      await sleep(1_000);
      const t1 = Date.now();
      const joining = launch();
      await joining.worker.ready;
      const joined = await settled(`after ${joining.label} joined`);
      measured.join.push(longestStall(samples, t1, joined.atMs));
      ctx.progress(`  ${joining.label} joined (owns partitions ${(joined.owners.get(joining.id) ?? []).join(', ')}): longest stall ${fmt(measured.join.at(-1)!)} ms`);
      moveLines.push(`${name} of ${leaving.label} (it owned partitions ${owned.join(', ') || 'none'}) ${fmt(pause)} ms, then ${joining.label} joined ${fmt(measured.join.at(-1)!)} ms`);
    }
    await sleep(2_000);
    const load = await agents.stop();
    ctx.progress('agents stopped; waiting for the group to catch up, then reading the control topic');
    const caught = await caughtUp(progress, group, 60_000);
    sampling = false;
    await sampler;
    for (const { worker } of live) worker.stop();
    stopped.push(...(await Promise.all(live.map(({ worker }) => worker.result))));
    live.length = 0;

    // A looping run is halted by whichever breaker sees it first: the loop detector at its 3rd
    // identical call, or the failure streak sooner when an earlier web_search of the run failed.
    const looping = new Set(load.flatMap((r) => r.loopTrees));
    const controls = (await readAll(ctx.brokers, bench.topics.control)).map((m) => controlEventCodec.decode(m.value!)).filter((c) => c.action === 'trip' && c.scope === 'run' && c.treeId !== null && looping.has(c.treeId));
    const trees = new Set(controls.map((c) => c.treeId));
    const loops = looping.size;
    const byDetector = new Map<string, number>();
    for (const c of controls) byDetector.set(c.reason?.detector ?? '?', (byDetector.get(c.reason?.detector ?? '?') ?? 0) + 1);
    const settledHow = 'the group settled (coordinator: Stable, every instance owning partitions) and every partition moved again';
    const figures: Figure[] = [
      latencyFigure('rebalance pause, graceful stop of 1 of 3', distribution(measured.graceful), 'ms', `longest stall of committed progress on any partition, from the stop of an instance that owned partitions and had committed on them until its process exited, ${settledHow}`),
      ...(measured.kill.length > 0 ? [latencyFigure('rebalance pause, SIGKILL of 1 of 3', distribution(measured.kill), 'ms', `the same from a SIGKILL of such an instance; the group notices after its session timeout (10 s)`)] : []),
      latencyFigure('rebalance pause, a replacement joins', distribution(measured.join), 'ms', `from its start until ${settledHow}, with the newcomer owning partitions`),
      latencyFigure('longest stall before a move (baseline)', distribution(baselines), 'ms', `steady ${fmt(PAUSE_LOAD_RATE)} spans/s, 3 instances, over the seconds between the group settling and the move; sampled every ${SAMPLE_EVERY_MS} ms`),
      figure('looping trees tripped across the moves', trees.size, 'count', `${loops} looping trees emitted; ${controls.length} run trips of theirs on the control topic (${[...byDetector].map(([d, n]) => `${d} ${n}`).join(', ')})`),
    ];
    const notes: string[] = [`Rebalance moves, in order: ${moveLines.map((l, i) => `${i + 1}. ${l}`).join('; ')}.`];
    for (const u of unsettled) notes.push(`${u}: the stall of that move may be booked under the next one.`);
    if (!caught) notes.push('The group had not committed every span 60 s after the agents stopped: trips below may be missing for want of processing, not lost.');
    const untripped = load.flatMap((r) => r.loopTrees).filter((tree) => !trees.has(tree));
    if (trees.size !== loops || controls.length !== trees.size) notes.push(`Across the moves: ${loops} looping trees, ${trees.size} tripped, ${controls.length} run trips on the control topic (a difference is a trip lost or doubled)${untripped.length > 0 ? `; not tripped: ${untripped.join(', ')}` : ''}.`);
    else notes.push(`Across the moves every looping tree was tripped exactly once (${loops}).`);
    notes.push(`Agents during the moves: ${fmt(load.reduce((n, r) => n + r.ratePerSec, 0))} spans/s emitted, ${load.reduce((n, r) => n + r.dropped, 0)} dropped, ${load.reduce((n, r) => n + r.unsent, 0)} unsent at close.`);
    for (const [i, r] of stopped.entries()) {
      const d = describeKafkajsErrors(r.kafkajsErrors);
      if (d) notes.push(`Rebalance, stopped instance ${i + 1}: ${d}.`);
    }
    return { figures, notes };
  } finally {
    sampling = false;
    agents.kill();
    for (const { worker } of live) worker.kill();
    await progress.close().catch(() => {});
    await members.close().catch(() => {});
    await bench.log.close();
    await deleteTopics(ctx.brokers, bench.topics);
  }
}

/**
 * When every partition's committed offset has moved past where a sample requested after
 * `fromMs` found it (null past the timeout). Only answers to requests sent after `fromMs` can
 * show progress made after it: comparing with an older sample would count a commit that landed
 * just before `fromMs` (a leaving member's last one) as progress after it.
 */
async function allAdvancedSince(samples: ProgressSample[], fromMs: number, timeoutMs: number): Promise<number | null> {
  const until = Date.now() + timeoutMs;
  const offsets = (s: ProgressSample) => Object.values(s.committed)[0]!;
  while (Date.now() < until) {
    const before = samples.find((s) => s.startedAtMs > fromMs);
    const now = samples.at(-1);
    if (before && now && now !== before && offsets(now).every((o, p) => o > offsets(before)[p]!)) return now.atMs;
    await sleep(SAMPLE_EVERY_MS);
  }
  return null;
}

/**
 * The longest interval between two advances of one partition's committed offset that overlaps
 * [fromMs, toMs], over all partitions; an interval still open at `toMs` counts up to it.
 */
function longestStall(samples: readonly ProgressSample[], fromMs: number, toMs: number): number {
  const offsets = (s: ProgressSample) => Object.values(s.committed)[0]!;
  let longest = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    let lastAdvance = samples[0]?.atMs ?? fromMs;
    for (let i = 1; i < samples.length; i++) {
      const s = samples[i]!;
      if (offsets(s)[p]! > offsets(samples[i - 1]!)[p]!) {
        if (s.atMs >= fromMs && lastAdvance <= toMs) longest = Math.max(longest, s.atMs - lastAdvance);
        lastAdvance = s.atMs;
      }
      if (s.atMs > toMs) break;
    }
    if (lastAdvance < toMs) longest = Math.max(longest, toMs - lastAdvance);
  }
  return longest;
}

/** Waits until the group has committed everything; says so when it did not in time (trips
 *  read afterwards would then be missing for want of processing, not lost). */
async function caughtUp(progress: Awaited<ReturnType<typeof groupProgress>>, group: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const s = await progress.sample([group]);
    if (total(s.committed[group]!) >= total(s.end)) return true;
    await sleep(250);
  }
  return false;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}
