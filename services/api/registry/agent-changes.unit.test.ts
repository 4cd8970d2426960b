import { describe, expect, it } from 'vitest';
import { LIFECYCLE_STATES, type AgentState, type LifecycleState } from '../../../storage/tables/agent-registry.js';
import { ApiError } from '../errors.js';
import { decideAgentChange, LIFECYCLE_MOVES, type AgentCommand } from './agent-changes.js';

const agent = (over: Partial<AgentState> = {}): AgentState => ({ agentId: 'researcher', owner: 'team-a', lifecycle: 'development', suspended: false, allowedTools: null, ...over });

function refusal(current: AgentState | null, command: AgentCommand): ApiError {
  try {
    decideAgentChange(current, command);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('agent registry: lifecycle moves', () => {
  /** The whole table, as a reviewer reads it: every pair of states, legal or not. */
  const LEGAL: [LifecycleState, LifecycleState][] = [
    ['development', 'staging'], ['development', 'retired'],
    ['staging', 'development'], ['staging', 'production'], ['staging', 'retired'],
    ['production', 'staging'], ['production', 'retired'],
  ];
  for (const from of LIFECYCLE_STATES) {
    for (const to of LIFECYCLE_STATES) {
      const legal = LEGAL.some(([a, b]) => a === from && b === to);
      it(`${from} -> ${to}: ${legal ? 'allowed' : 'refused (409)'}`, () => {
        const current = agent({ lifecycle: from });
        if (legal) {
          expect(decideAgentChange(current, { kind: 'lifecycle', to }).state.lifecycle).toBe(to);
          return;
        }
        expect(refusal(current, { kind: 'lifecycle', to }).code).toBe('CONFLICT');
      });
    }
  }

  it('the table and the rules agree', () => {
    expect(Object.entries(LIFECYCLE_MOVES).flatMap(([from, tos]) => tos.map((to) => [from, to]))).toEqual(LEGAL);
  });

  it('a refusal names where the agent may go instead', () => {
    expect(refusal(agent({ lifecycle: 'development' }), { kind: 'lifecycle', to: 'production' }).message)
      .toBe("agent 'researcher' cannot move from development to production (from development: staging, retired)");
  });

  it('retiring opens the agent breaker, unless a suspension holds it open already', () => {
    expect(decideAgentChange(agent({ lifecycle: 'production' }), { kind: 'lifecycle', to: 'retired' }).breaker).toBe('halt');
    expect(decideAgentChange(agent({ lifecycle: 'production', suspended: true }), { kind: 'lifecycle', to: 'retired' }).breaker).toBeNull();
    expect(decideAgentChange(agent(), { kind: 'lifecycle', to: 'staging' }).breaker).toBeNull();
  });

  it('a retired agent cannot change in any way', () => {
    const retired = agent({ lifecycle: 'retired' });
    for (const command of [{ kind: 'update', owner: 'x' }, { kind: 'suspend' }, { kind: 'resume' }, { kind: 'lifecycle', to: 'development' }] as AgentCommand[]) {
      expect(refusal(retired, command).message).toMatch(/is retired/);
    }
  });
});

describe('agent registry: changes', () => {
  it('registering publishes the scope policy only when the tools are restricted', () => {
    const restricted = decideAgentChange(null, { kind: 'register', agentId: 'researcher', owner: 'team-a', lifecycle: 'staging', allowedTools: ['web_search'] });
    expect(restricted).toMatchObject({ change: 'registered', publishScope: true, breaker: null, state: { lifecycle: 'staging', suspended: false, allowedTools: ['web_search'] } });
    expect(decideAgentChange(null, { kind: 'register', agentId: 'researcher', owner: 'team-a', lifecycle: 'development', allowedTools: null }).publishScope).toBe(false);
  });

  it('registering twice is a conflict', () => {
    expect(refusal(agent(), { kind: 'register', agentId: 'researcher', owner: 'b', lifecycle: 'development', allowedTools: null }).code).toBe('CONFLICT');
  });

  it('changing the allowed tools republishes the scope policy; the same tools in another order change nothing', () => {
    const current = agent({ allowedTools: ['a', 'b'] });
    expect(decideAgentChange(current, { kind: 'update', allowedTools: ['a'] })).toMatchObject({ publishScope: true, detail: 'allowed tools a, b -> a' });
    expect(decideAgentChange(current, { kind: 'update', allowedTools: null })).toMatchObject({ publishScope: true, state: { allowedTools: null } });
    expect(refusal(current, { kind: 'update', allowedTools: ['b', 'a'] }).code).toBe('INVALID_REQUEST');
  });

  it('a new owner alone does not touch the scope policy', () => {
    expect(decideAgentChange(agent(), { kind: 'update', owner: 'team-b' })).toMatchObject({ publishScope: false, detail: 'owner team-a -> team-b', state: { owner: 'team-b' } });
  });

  it('suspend opens the agent breaker and resume resets it; neither twice', () => {
    const suspended = decideAgentChange(agent(), { kind: 'suspend' });
    expect(suspended).toMatchObject({ change: 'suspended', breaker: 'halt', state: { suspended: true } });
    expect(refusal(suspended.state, { kind: 'suspend' }).code).toBe('CONFLICT');
    const resumed = decideAgentChange(suspended.state, { kind: 'resume' });
    expect(resumed).toMatchObject({ change: 'resumed', breaker: 'reset', state: { suspended: false } });
    expect(refusal(resumed.state, { kind: 'resume' }).code).toBe('CONFLICT');
  });
});
