/**
 * Scope: a tool or data source outside the agent's allowed set trips at once. Off until a
 * policy names the allowed set. Names are matched exactly; a trailing `*` allows a prefix
 * (`github.*`).
 */
import { z } from 'zod';
import type { Detector } from './detector.js';

export interface ScopeParams {
  allowedTools: string[];
  allowedSources: string[] | null;
}

const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

export function allowed(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

export const scope: Detector<null, ScopeParams> = {
  name: 'scope',
  stateScope: 'run',
  params: z.object({ allowedTools: list, allowedSources: list.nullable().default(null) }),
  defaults: null,
  initialState: () => null,
  evolve: (state) => state,
  decide(_state, event, p) {
    if (event.kind === 'tool_call' && !allowed(event.name, p.allowedTools)) {
      return { threshold: 0, observed: 1, windowMs: null, message: `tool '${event.name}' is outside the agent's allowed tools (${p.allowedTools.join(', ') || 'none'})` };
    }
    if (event.kind === 'retrieval' && p.allowedSources !== null && !allowed(event.name, p.allowedSources)) {
      return { threshold: 0, observed: 1, windowMs: null, message: `data source '${event.name}' is outside the agent's allowed sources (${p.allowedSources.join(', ') || 'none'})` };
    }
    return null;
  },
};
