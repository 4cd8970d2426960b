/**
 * Exactly once, proven by killing processes: the real processor entry point runs as child
 * processes on the real broker while a workload streams in; some are SIGKILLed at random
 * points and restarted. Afterwards every trip must be on the control topic exactly once, every
 * audit record once, and every tree's committed ledger must equal what an uninterrupted fold of
 * the same log gives.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { breakerEventCodec, controlEventCodec, policyEventCodec, spanEventCodec } from '../../schemas/index.js';
import { createEngine, type TreeSnapshot } from '../../streams/engine.js';
import { createPolicyBook } from '../../streams/policies.js';
import { brokers, drained, freshKafka, progressed, readAll } from '../../test/kafka.js';
import { kill9, killAll, startService, stop } from '../../test/processes.js';
import { workload, type Workload } from '../../test/workload.js';
import { POSITION_KEY } from '../transactional-stage.js';
import { decodeRecord } from './state-changelog.js';

const logs: EventLog[] = [];
afterEach(killAll);
afterAll(async () => { await Promise.all(logs.map((l) => l.close())); });

/** What an uninterrupted processor decides: the pure engine folding the same log in order. */
function reference({ events, policies }: Workload) {
  const book = createPolicyBook();
  for (const p of policies) book.apply(p.policyId, p);
  const engine = createEngine({ policies: book });
  const decisions = events.flatMap((e) => engine.apply(e).controls).map((c) => `${c.eventId} ${c.action} ${c.reason?.detector} ${c.scope}:${c.target}`);
  const ledgers = new Map(engine.treeIds().map((id) => [id, ledgerOf(engine.snapshot(id)!)]));
  return { decisions, ledgers };
}

function ledgerOf(snapshot: TreeSnapshot) {
  return { costMicros: snapshot.costMicros, steps: snapshot.runs.map(([id, run]) => `${id}:${run.steps}:${run.costMicros}`).join(','), open: snapshot.breakers.filter(([, b]) => b.breaker.state === 'open').map(([k]) => k).sort().join(',') };
}

async function scenario(options: { partitions: number; instances: number; kills: number; trees: number }) {
  const { log, topics, prefix } = await freshKafka(options.partitions);
  logs.push(log);
  const load = workload({ trees: options.trees, stepsPerTree: 20, seed: 7 });
  const producer = await log.producer();
  await producer.send(topics.policies, load.policies.map((p) => ({ key: p.policyId, value: policyEventCodec.encode(p) })));

  const env = { KAFKA_BROKERS: brokers().join(','), FUSEBOX_TOPIC_PREFIX: prefix, FUSEBOX_PARTITIONS: String(options.partitions) };
  const start = () => startService('services/processor/main.ts', env);
  const instances: ChildProcess[] = Array.from({ length: options.instances }, start);

  // The load: the log streams in (for about 4 s per kill) while processors are killed and restarted.
  let sent = 0;
  const chunk = Math.ceil(load.events.length / (40 * Math.max(1, options.kills)));
  const feeding = (async () => {
    for (let i = 0; i < load.events.length; i += chunk) {
      await producer.send(topics.spans, load.events.slice(i, i + chunk).map((e) => ({ key: e.treeId, value: spanEventCodec.encode(e) })));
      sent = Math.min(load.events.length, i + chunk);
      // The rest streams only once the processors are up (slow under a loaded CI), so the kills land mid-stream.
      if (i === 0) await progressed(topics.spans, `${prefix}.processor`, 0n);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  })();

  const seed = Date.now();
  let random = seed;
  const next = () => ((random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const killedAfterMs: number[] = [];
  let killsUnderLoad = 0;
  let done = 0n;
  for (let k = 0; k < options.kills; k++) {
    // Kill only once the processors have committed work since the last kill, then at a random moment.
    done = await progressed(topics.spans, `${prefix}.processor`, done);
    const delay = Math.floor(next() * 500);
    killedAfterMs.push(delay);
    await new Promise((ok) => setTimeout(ok, delay));
    if (sent < load.events.length) killsUnderLoad += 1;
    const victim = Math.floor(next() * instances.length);
    await kill9(instances[victim]!);
    instances[victim] = start(); // a supervisor restarts it, as the compose file's restart policy would
  }
  await feeding;
  try {
    await drained(topics.spans, `${prefix}.processor`);
  } catch (error) {
    const tails = instances.map((c) => (c as ChildProcess & { stderrTail(): string }).stderrTail()).join('\n---\n');
    throw new Error(`${(error as Error).message} (kill seed ${seed}, delays ${killedAfterMs.join(',')})\n${tails.slice(-4000)}`);
  }
  // Stopped as a supervisor would, so no transaction is left open for the reads below to wait out.
  await Promise.all(instances.map((child) => stop(child)));

  const controls = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!));
  const audits = (await readAll(log, topics.audit)).map((m) => breakerEventCodec.decode(m.value!));
  // The committed changelog, newest record per key, loaded as a restoring processor would.
  const newest = new Map<string, Buffer | null>();
  for (const m of await readAll(log, topics.processorState)) if (m.key !== POSITION_KEY) newest.set(m.key!, m.value);
  const restored = createEngine();
  for (const [key, value] of newest) {
    const record = decodeRecord(key, value);
    if (record?.kind === 'tree') restored.loadTree(record.tree, record.runs);
    else if (record?.kind === 'run') restored.loadRun(record.treeId, record.runId, record.run);
  }
  const state = new Map<string, TreeSnapshot>(restored.treeIds().map((id) => [id, restored.snapshot(id)!]));
  return { load, controls, audits, state, killsUnderLoad };
}

describe('processor: exactly once across SIGKILL', () => {
  it('kills the processor at random points under load and restarts it: decisions and ledgers equal an uninterrupted run', async () => {
    const { load, controls, audits, state, killsUnderLoad } = await scenario({ partitions: 3, instances: 1, kills: 4, trees: 400 });
    expect(killsUnderLoad).toBeGreaterThanOrEqual(3); // the kills hit a processor with work in flight
    const expected = reference(load);
    expect(expected.decisions.length).toBeGreaterThan(50); // loops and budgets do trip in this workload

    const published = controls.map((c) => `${c.eventId} ${c.action} ${c.reason?.detector} ${c.scope}:${c.target}`);
    expect(published.sort()).toEqual([...expected.decisions].sort()); // each exactly once, none missing
    expect(audits.map((a) => a.eventId).sort()).toEqual(controls.map((c) => c.eventId).sort());

    expect(state.size).toBe(expected.ledgers.size);
    for (const [treeId, ledger] of expected.ledgers) expect(ledgerOf(state.get(treeId)!), treeId).toEqual(ledger);
  }, 240_000);

  it('three processors in one group on six partitions: kill one, every decision still exactly once', async () => {
    const { load, controls, audits, state, killsUnderLoad } = await scenario({ partitions: 6, instances: 3, kills: 1, trees: 300 });
    expect(killsUnderLoad).toBe(1);
    const expected = reference(load);
    expect(controls.map((c) => c.eventId).sort()).toEqual(expected.decisions.map((d) => d.split(' ')[0]!).sort());
    expect(new Set(audits.map((a) => a.eventId)).size).toBe(audits.length);
    for (const [treeId, ledger] of expected.ledgers) expect(ledgerOf(state.get(treeId)!), treeId).toEqual(ledger);
  }, 240_000);
});
