/**
 * What the client knows of open breakers, built from control events alone. Pure and
 * synchronous, so `guard()` answers from memory in microseconds.
 */
import type { ControlEvent, ControlScope } from '../schemas/index.js';

export interface OpenBreaker {
  scope: ControlScope;
  target: string;
  event: ControlEvent;
}

export interface RunIdentity {
  runId: string;
  treeId: string;
  agentId: string;
  tenantId: string;
}

const CHECK_ORDER: ControlScope[] = ['run', 'tree', 'agent', 'tenant'];

export function createBreakerBoard() {
  const open = new Map<string, OpenBreaker>();
  const seen = new Set<string>();

  return {
    /** Applies a control event; returns false for one already applied (a replayed trip). */
    apply(event: ControlEvent): boolean {
      if (seen.has(event.eventId)) return false;
      seen.add(event.eventId);
      const key = `${event.scope}:${event.target}`;
      if (event.action === 'trip' || event.action === 'kill') open.set(key, { scope: event.scope, target: event.target, event });
      else if (event.action === 'reset') open.delete(key);
      return true;
    },
    /** Open breakers held, of any run: zero lets guard() skip the lookups. */
    get size(): number {
      return open.size;
    },
    /** The open breaker covering this run, narrowest scope first; undefined when all are closed. */
    check(run: RunIdentity): OpenBreaker | undefined {
      if (open.size === 0) return undefined;
      for (const scope of CHECK_ORDER) {
        const target = scope === 'run' ? run.runId : scope === 'tree' ? run.treeId : scope === 'agent' ? run.agentId : run.tenantId;
        const breaker = open.get(`${scope}:${target}`);
        if (breaker && breaker.event.tenantId === run.tenantId) return breaker;
      }
      return undefined;
    },
  };
}

export type BreakerBoard = ReturnType<typeof createBreakerBoard>;
