/**
 * The agent stage, exactly once across SIGKILL: its real entry point runs as a child process
 * while agent signals stream in, is killed at random points and restarted. Afterwards every
 * decision is in the audit topic exactly once, on every control partition exactly once, and
 * each agent's committed state has made exactly as many transitions as it published decisions:
 * no decision without its state, no state without its decision.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventLog } from '../../log/port.js';
import { agentKey, agentSignalCodec, breakerEventCodec, controlEventCodec, policyEventCodec, policyEventSchema, type AgentSignal } from '../../schemas/index.js';
import type { AgentState } from '../../streams/agent-breaker.js';
import { brokers, drained, freshKafka, progressed, readAll } from '../../test/kafka.js';
import { feedAcrossKills } from '../../test/kill-feed.js';
import { kill9, killAll, startService, stop } from '../../test/processes.js';
import { POSITION_KEY } from '../transactional-stage.js';

const logs: EventLog[] = [];
afterEach(killAll);
afterAll(async () => { await Promise.all(logs.map((l) => l.close())); });

/** Each agent: two halted runs (open), a refused run, after the cooldown a probe that succeeds
 *  while a second run is refused (closed), then two more halts and a probe that fails (reopen). */
function signals(agents: number): AgentSignal[] {
  const out: AgentSignal[] = [];
  for (let a = 0; a < agents; a++) {
    const t0 = 1_700_000_000_000 + a * 13;
    const agentId = `agent-${a}`;
    const emit = (run: string, kind: AgentSignal['kind'], at: number) =>
      out.push({ signalId: `${agentId}-${run}-${kind}`, tenantId: 'acme', agentId, runId: `${agentId}-${run}`, treeId: `${agentId}-${run}`, kind, detail: kind === 'run_tripped' ? 'loop' : '', timeMs: t0 + at });
    emit('r1', 'run_started', 0); emit('r1', 'run_tripped', 100);
    emit('r2', 'run_started', 200); emit('r2', 'run_tripped', 300);
    emit('r3', 'run_started', 1_000);
    emit('p1', 'run_started', 6_000); emit('x1', 'run_started', 6_100); emit('p1', 'run_succeeded', 6_500);
    emit('r4', 'run_started', 7_000); emit('r4', 'run_tripped', 7_100);
    emit('r5', 'run_started', 7_200); emit('r5', 'run_tripped', 7_300);
    emit('p2', 'run_started', 13_000); emit('p2', 'run_failed', 13_200);
  }
  return out.sort((x, y) => x.timeMs - y.timeMs);
}

describe('agent stage: exactly once across SIGKILL', () => {
  it('kills the agent stage at random points under load: every decision once, state and decisions agree', async () => {
    const partitions = 3;
    const { log, topics, prefix } = await freshKafka(partitions);
    logs.push(log);
    const producer = await log.producer();
    const policy = policyEventSchema.parse({ policyId: 'agents', version: 1, tenantId: 'acme', selector: {}, detector: 'agent_breaker', params: { tripsToOpen: '2', windowMs: '60000', cooldownMs: '5000', probes: '1' }, disposition: 'block', changedBy: 'sre', changedAtMs: 1 });
    await producer.send(topics.policies, [{ key: policy.policyId, value: policyEventCodec.encode(policy) }]);

    const all = signals(300);
    const env = { KAFKA_BROKERS: brokers().join(','), FUSEBOX_TOPIC_PREFIX: prefix, FUSEBOX_PARTITIONS: String(partitions) };
    let stage: ChildProcess = startService('services/agent-stage/main.ts', env);
    const kills = 3;
    const feed = feedAcrossKills(all, { chunk: 30, backlog: 120, kills, pauseMs: 100, send: (slice) => producer.send(topics.agentSignals, slice.map((s) => ({ key: agentKey(s.tenantId, s.agentId), value: agentSignalCodec.encode(s) }))) });
    let killsUnderLoad = 0;
    let done = 0n;
    for (let k = 0; k < kills; k++) {
      // Kill only once this incarnation has committed work, then at a random moment after.
      done = await progressed(topics.agentSignals, `${prefix}.agent-stage`, done);
      feed.incarnationUp();
      await new Promise((ok) => setTimeout(ok, Math.floor(Math.random() * 400)));
      if (feed.sent() < all.length) killsUnderLoad += 1;
      await kill9(stage);
      feed.incarnationKilled();
      stage = startService('services/agent-stage/main.ts', env);
    }
    await feed.done;
    await drained(topics.agentSignals, `${prefix}.agent-stage`);
    await stop(stage); // no transaction left open for the reads below to wait out
    await producer.close();
    expect(killsUnderLoad).toBeGreaterThanOrEqual(2);

    const audits = (await readAll(log, topics.audit)).map((m) => breakerEventCodec.decode(m.value!));
    const controls = (await readAll(log, topics.control)).map((m) => controlEventCodec.decode(m.value!));
    const states = new Map<string, AgentState>();
    for (const m of await readAll(log, topics.agentState)) if (m.key !== POSITION_KEY) states.set(m.key!, JSON.parse(m.value!.toString()) as AgentState);

    const ids = audits.map((a) => a.eventId);
    // No decision twice (listed in full if it happens: which agent, what, when).
    expect(audits.filter((a, i) => ids.indexOf(a.eventId) !== i).map((d) => `${d.agentId} ${d.scope}:${d.target} ${d.action} at ${d.timeMs}: ${d.message}`)).toEqual([]);
    // Per agent: open, half-open, closed, open, half-open, reopen = 6 transitions; 1 run refused (x1).
    expect(audits.filter((a) => a.scope === 'agent')).toHaveLength(300 * 6);
    expect(audits.filter((a) => a.scope === 'run')).toHaveLength(300);
    for (const [key, state] of states) {
      const agentDecisions = audits.filter((a) => a.scope === 'agent' && `acme/${a.agentId}` === key).length;
      expect(state.transitions, key).toBe(agentDecisions);
      expect(state.breaker.state, key).toBe('open');
    }
    expect(states.size).toBe(300);
    // Agent-scope decisions travel to every control partition, once each; run-scope ones once.
    const copies = new Map<string, number>();
    for (const c of controls) copies.set(c.eventId, (copies.get(c.eventId) ?? 0) + 1);
    for (const a of audits) expect(copies.get(a.eventId), a.eventId).toBe(a.scope === 'agent' ? partitions : 1);
  }, 240_000);
});
