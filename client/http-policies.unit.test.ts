import { describe, expect, it } from 'vitest';
import { policyEventSchema, type PolicyEvent } from '../schemas/index.js';
import { iterationCap } from '../streams/detectors/iteration-cap.js';
import { scope } from '../streams/detectors/scope.js';
import { jittered, syncPolicies } from './http-policies.js';
import { createCachedPolicies } from './local-checks.js';

const subject = { tenantId: 'acme', agentId: 'researcher', runId: 'r1', tags: [] };
const policy = (over: Partial<PolicyEvent> & Pick<PolicyEvent, 'policyId'>): PolicyEvent =>
  policyEventSchema.parse({ version: 1, tenantId: 'acme', selector: {}, detector: 'scope', params: { allowedTools: 'web_search' }, disposition: 'block', changedBy: 'sre', changedAtMs: 1, ...over });
const answer = (...policies: unknown[]) => JSON.parse(JSON.stringify({ version: 'v', policies }));

describe('syncPolicies', () => {
  it('given an empty book, when an answer arrives, then its policies govern', () => {
    const book = createCachedPolicies('acme');
    const sync = syncPolicies(book, new Set(), answer(policy({ policyId: 'p-scope' })));
    expect([...sync.ids]).toEqual(['p-scope']);
    expect(book.resolve(scope, subject)?.ref).toEqual({ policyId: 'p-scope', policyVersion: 1 });
  });

  it('given a held policy, when the next answer lacks it (disabled), then it no longer governs', () => {
    const book = createCachedPolicies('acme');
    const first = syncPolicies(book, new Set(), answer(policy({ policyId: 'p-scope' }), policy({ policyId: 'p-cap', detector: 'iteration_cap', params: { maxSteps: '5' } })));
    const generation = book.generation;
    const second = syncPolicies(book, first.ids, answer(policy({ policyId: 'p-cap', detector: 'iteration_cap', params: { maxSteps: '5' } })));
    expect([...second.ids]).toEqual(['p-cap']);
    expect(book.resolve(scope, subject)).toBeNull(); // scope is off by default
    expect(book.resolve(iterationCap, subject)?.params).toEqual({ maxSteps: 5 });
    expect(book.generation).toBeGreaterThan(generation); // runs re-resolve
  });

  it('given a held version, when an answer repeats it, then nothing changes; a newer version replaces it', () => {
    const book = createCachedPolicies('acme');
    const first = syncPolicies(book, new Set(), answer(policy({ policyId: 'p' })));
    syncPolicies(book, first.ids, answer({ ...policy({ policyId: 'p' }), params: { allowedTools: 'shell' } })); // same version: not taken
    expect(book.resolve(scope, subject)?.params).toEqual({ allowedTools: ['web_search'], allowedSources: null });
    syncPolicies(book, first.ids, answer(policy({ policyId: 'p', version: 2, params: { allowedTools: 'shell' } })));
    expect(book.resolve(scope, subject)?.params).toEqual({ allowedTools: ['shell'], allowedSources: null });
  });

  it('keeps the held version of an item it cannot read, and reports it, as a refused version on the topic', () => {
    const book = createCachedPolicies('acme');
    const first = syncPolicies(book, new Set(), answer(policy({ policyId: 'p' })));
    const second = syncPolicies(book, first.ids, answer({ ...policy({ policyId: 'p', version: 2 }), disposition: 'quarantine' }, policy({ policyId: 'q', detector: 'telepathy' })));
    expect(second.refused.map((r) => r.policyId)).toEqual(['p', 'q']);
    expect(book.resolve(scope, subject)?.ref).toEqual({ policyId: 'p', policyVersion: 1 });
  });

  it('refuses an answer that is not a policy list', () => {
    expect(() => syncPolicies(createCachedPolicies('acme'), new Set(), { policy: [] })).toThrow(TypeError);
  });
});

describe('jittered', () => {
  it.each([[0, 8_000], [0.5, 10_000], [1, 12_000]])('random %s of 10 s is %s ms', (r, ms) => {
    expect(jittered(10_000, () => r)).toBe(ms);
  });
});
