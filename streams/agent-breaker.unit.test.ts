import { describe, expect, it } from 'vitest';
import type { AgentSignal } from '../schemas/index.js';
import { agentBreakerParams, initialAgentState, step, type AgentDecision, type AgentState } from './agent-breaker.js';

const params = agentBreakerParams.parse({ tripsToOpen: '2', windowMs: '60000', cooldownMs: '10000', probes: '1' });
let n = 0;
const signal = (kind: AgentSignal['kind'], runId: string, timeMs: number): AgentSignal => ({ signalId: `sig-${++n}`, tenantId: 'acme', agentId: 'crawler', runId, treeId: `tree-${runId}`, kind, detail: kind === 'run_tripped' ? 'loop' : '', timeMs });

/** given signals, when folded, then the breaker state and every decision as "action scope:target". */
function fold(signals: AgentSignal[], start: AgentState = initialAgentState('acme', 'crawler')) {
  let state = start;
  const decisions: AgentDecision[] = [];
  for (const s of signals) {
    const out = step(state, s, params);
    state = out.state;
    decisions.push(...out.decisions);
  }
  return { state, decisions, brief: decisions.map((d) => `${d.action} ${d.scope}:${d.target}`) };
}

const opened = [signal('run_tripped', 'r1', 1_000), signal('run_tripped', 'r2', 2_000)];

describe('agent breaker', () => {
  it.each([
    { case: 'one trip below the threshold', signals: [signal('run_tripped', 'r1', 1_000)], state: 'closed', brief: [] },
    { case: 'two trips within the window open it', signals: opened, state: 'open', brief: ['trip agent:crawler'] },
    { case: 'two trips further apart than the window do not', signals: [signal('run_tripped', 'r1', 1_000), signal('run_tripped', 'r2', 70_000)], state: 'closed', brief: [] },
    { case: 'before the cooldown nothing changes', signals: [...opened, signal('run_started', 'r3', 11_999)], state: 'open', brief: ['trip agent:crawler'] },
    { case: 'after the cooldown it half-opens and admits one probe', signals: [...opened, signal('run_started', 'p1', 12_000)], state: 'half_open', brief: ['trip agent:crawler', 'reset agent:crawler'] },
    { case: 'a second run while the probe is out is refused', signals: [...opened, signal('run_started', 'p1', 12_000), signal('run_started', 'x', 12_500)], state: 'half_open', brief: ['trip agent:crawler', 'reset agent:crawler', 'trip run:x'] },
    { case: 'the probe succeeding closes it', signals: [...opened, signal('run_started', 'p1', 12_000), signal('run_succeeded', 'p1', 13_000)], state: 'closed', brief: ['trip agent:crawler', 'reset agent:crawler', 'reset agent:crawler'] },
    { case: 'the probe failing reopens it', signals: [...opened, signal('run_started', 'p1', 12_000), signal('run_failed', 'p1', 13_000)], state: 'open', brief: ['trip agent:crawler', 'reset agent:crawler', 'trip agent:crawler'] },
    { case: 'the probe halted reopens it', signals: [...opened, signal('run_started', 'p1', 12_000), signal('run_tripped', 'p1', 13_000)], state: 'open', brief: ['trip agent:crawler', 'reset agent:crawler', 'trip agent:crawler'] },
    { case: 'a non-probe run ending changes nothing', signals: [...opened, signal('run_started', 'p1', 12_000), signal('run_succeeded', 'old', 12_100)], state: 'half_open', brief: ['trip agent:crawler', 'reset agent:crawler'] },
  ])('$case', ({ signals, state, brief }) => {
    const result = fold(signals);
    expect(result.state.breaker.state).toBe(state);
    expect(result.brief).toEqual(brief);
  });

  it('reopening starts a new cooldown from the failure', () => {
    const { state } = fold([...opened, signal('run_started', 'p1', 12_000), signal('run_failed', 'p1', 13_000), signal('run_started', 'q', 22_999)]);
    expect(state.breaker).toEqual({ state: 'open', openedAtMs: 13_000 });
    expect(fold([signal('run_started', 'q2', 23_000)], state).state.breaker.state).toBe('half_open');
  });

  it('ignores a redelivered signal, and gives a replay the same decision ids', () => {
    const once = fold(opened);
    const twice = fold([...opened, ...opened]);
    expect(twice.decisions.map((d) => d.eventId)).toEqual(once.decisions.map((d) => d.eventId));
  });

  it('says why, with threshold, observed and window', () => {
    expect(fold(opened).decisions[0]).toMatchObject({ threshold: 2, observed: 2, windowMs: 60_000, message: "agent 'crawler' had 2 runs halted within 60 s (last by loop): suspended for 10 s" });
  });
});
