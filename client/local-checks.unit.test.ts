import { describe, expect, it } from 'vitest';
import type { PolicyEvent, SpanEvent } from '../schemas/index.js';
import { createEngine } from '../streams/engine.js';
import { builtinPolicies } from '../streams/policies.js';
import { checkLocally, createCachedPolicies, emptyRunPolicies, type CountedPolicies } from './local-checks.js';

const subject = { tenantId: 'acme', agentId: 'researcher', runId: 'run-1', tags: ['prod'] };

function policy(over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId' | 'detector' | 'params'>): PolicyEvent {
  return { version: 1, tenantId: 'acme', selector: { agentId: null, tags: [], runId: null }, disposition: 'block', enabled: true, changedBy: 'test', changedAtMs: 1, ...over };
}

function span(i: number, over: Partial<SpanEvent> = {}): SpanEvent {
  return {
    eventId: `e${i}`, tenantId: 'acme', agentId: 'researcher', runId: 'run-1', parentRunId: null, treeId: 'run-1', spanId: `s${i}`, parentSpanId: null,
    kind: 'tool_call', name: 'web_search', status: 'ok', error: null, startTimeMs: i, endTimeMs: i, model: null, provider: null,
    inputTokens: 0, outputTokens: 0, cachedTokens: 0, costMicros: null, argsHash: `h${i}`, args: null, outputHash: `o${i}`, output: null,
    userId: null, sessionId: null, edge: null, attributes: { 'fusebox.agent.tags': 'prod' }, ...over,
  };
}

const withBuiltins: CountedPolicies = { resolve: builtinPolicies.resolve, generation: 0 };

describe('local pre-checks', () => {
  it('given no policies, only the built-in iteration cap (500) applies: step 500 may start, step 501 may not', () => {
    const cached = emptyRunPolicies();
    expect(checkLocally(withBuiltins, subject, cached, 499, { kind: 'tool_call', name: 'anything' })).toBeNull();
    const refusal = checkLocally(withBuiltins, subject, cached, 500, { kind: 'tool_call', name: 'anything' });
    expect(refusal).toEqual({
      reason: { detector: 'iteration_cap', threshold: 500, observed: 501, windowMs: null, message: 'run took 501 steps, above its cap of 500' },
      policy: { id: 'builtin:iteration_cap', version: 1 },
    });
    expect(checkLocally(withBuiltins, subject, cached, 500, { kind: 'run_end', name: 'researcher' })).toBeNull(); // ending is not a step
  });

  it('refuses a tool outside the allowed set, and allows a prefix', () => {
    const policies = createCachedPolicies('acme');
    policies.apply('p-scope', policy({ policyId: 'p-scope', detector: 'scope', params: { allowedTools: 'web_search, github.*' }, version: 3 }));
    const cached = emptyRunPolicies();
    expect(checkLocally(policies, subject, cached, 0, { kind: 'tool_call', name: 'web_search' })).toBeNull();
    expect(checkLocally(policies, subject, cached, 0, { kind: 'tool_call', name: 'github.create_issue' })).toBeNull();
    expect(checkLocally(policies, subject, cached, 0, { kind: 'llm_call', name: 'gpt-4o' })).toBeNull();
    expect(checkLocally(policies, subject, cached, 0)).toBeNull(); // a bare guard() names no tool
    expect(checkLocally(policies, subject, cached, 0, { kind: 'tool_call', name: 'shell' })).toEqual({
      reason: { detector: 'scope', threshold: 0, observed: 1, windowMs: null, message: "tool 'shell' is outside the agent's allowed tools (web_search, github.*)" },
      policy: { id: 'p-scope', version: 3 },
    });
  });

  it('sees a policy change at the next check, including a disabled policy falling back to the default', () => {
    const policies = createCachedPolicies('acme');
    const cached = emptyRunPolicies();
    expect(checkLocally(policies, subject, cached, 10)).toBeNull();
    policies.apply('cap', policy({ policyId: 'cap', detector: 'iteration_cap', params: { maxSteps: '10' }, selector: { agentId: null, tags: ['prod'], runId: null } }));
    expect(checkLocally(policies, subject, cached, 10)?.reason.threshold).toBe(10);
    policies.apply('cap', policy({ policyId: 'cap', detector: 'iteration_cap', params: { maxSteps: '10' }, version: 2, enabled: false }));
    expect(checkLocally(policies, subject, cached, 10)).toBeNull();
    expect(checkLocally(policies, subject, cached, 500)?.policy).toEqual({ id: 'builtin:iteration_cap', version: 1 });
  });

  it('leaves a warn disposition to the processor, and ignores other tenants\' policies', () => {
    const policies = createCachedPolicies('acme');
    policies.apply('warn', policy({ policyId: 'warn', detector: 'scope', params: { allowedTools: 'web_search' }, disposition: 'warn' }));
    policies.apply('other', policy({ policyId: 'other', tenantId: 'globex', detector: 'iteration_cap', params: { maxSteps: '1' } }));
    expect(policies.size).toBe(1);
    expect(checkLocally(policies, subject, emptyRunPolicies(), 5, { kind: 'tool_call', name: 'shell' })).toBeNull();
  });

  it('decides exactly what the processor decides when it sees the refused attempt', () => {
    const policies = createCachedPolicies('acme');
    policies.apply('scope', policy({ policyId: 'scope', detector: 'scope', params: { allowedTools: 'web_search' }, version: 2 }));
    policies.apply('cap', policy({ policyId: 'cap', detector: 'iteration_cap', params: { maxSteps: '4' }, version: 7, selector: { agentId: 'researcher', tags: [], runId: null } }));
    const cases = [
      { name: 'scope', taken: 1, next: { kind: 'tool_call' as const, name: 'shell' } },
      { name: 'iteration cap', taken: 4, next: { kind: 'tool_call' as const, name: 'web_search' } },
      { name: 'both: scope is reported', taken: 4, next: { kind: 'tool_call' as const, name: 'shell' } },
    ];
    for (const c of cases) {
      const engine = createEngine({ policies });
      const taken = Array.from({ length: c.taken }, (_, i) => span(i));
      for (const s of taken) expect(engine.apply(s).controls, c.name).toEqual([]);
      const local = checkLocally(policies, subject, emptyRunPolicies(), c.taken, c.next);
      const processor = engine.apply(span(99, { kind: c.next.kind, name: c.next.name })).controls;
      expect(processor, c.name).toHaveLength(1);
      expect(local, c.name).toEqual({ reason: processor[0]!.reason, policy: { id: processor[0]!.policyId, version: processor[0]!.policyVersion } });
    }
  });
});
