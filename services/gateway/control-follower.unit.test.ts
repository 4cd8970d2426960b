/**
 * The SSE filter: a subscriber sees its own tenant's events only; of run and tree scope only
 * those of the trees it named (all of them when it named none); agent and tenant scope always.
 */
import { describe, expect, it } from 'vitest';
import type { ControlEvent } from '../../schemas/index.js';
import { concerns } from './control-follower.js';

function event(overrides: Partial<ControlEvent>): ControlEvent {
  return { eventId: 'e', tenantId: 'acme', scope: 'run', target: 'r1', treeId: 't1', action: 'trip', reason: { detector: 'loop', threshold: 3, observed: 3, windowMs: null, message: 'loop' }, policyId: 'builtin:loop', policyVersion: 1, timeMs: 1, ...overrides };
}
const namedTrees = { tenantId: 'acme', trees: new Set(['t1']) };
const everyTree = { tenantId: 'acme', trees: null };

describe('which control events reach a stream', () => {
  it.each([
    ['a run of a named tree', namedTrees, event({}), true],
    ['a tree-scope event of a named tree', namedTrees, event({ scope: 'tree', target: 't1' }), true],
    ['a run of another tree', namedTrees, event({ treeId: 't2' }), false],
    ['a run event without a tree', namedTrees, event({ treeId: null }), false],
    ['agent scope, whatever the trees named', namedTrees, event({ scope: 'agent', target: 'researcher', treeId: null }), true],
    ['tenant scope, whatever the trees named', namedTrees, event({ scope: 'tenant', target: 'acme', treeId: null }), true],
    ['any tree of the tenant when none is named', everyTree, event({ treeId: 't9' }), true],
    ['another tenant\'s event on a named tree id', namedTrees, event({ tenantId: 'globex' }), false],
    ['another tenant\'s agent-scope event', everyTree, event({ tenantId: 'globex', scope: 'agent', target: 'researcher', treeId: null }), false],
    ['another tenant\'s tenant-scope event', everyTree, event({ tenantId: 'globex', scope: 'tenant', target: 'globex', treeId: null }), false],
  ])('%s', (_case, subscriber, controlEvent, expected) => {
    expect(concerns(subscriber, controlEvent)).toBe(expected);
  });
});
