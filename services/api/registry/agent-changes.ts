/**
 * The agent registry's rules, pure: which lifecycle moves are legal, and what each change does
 * to an agent and to the rest of Fusebox (publish the agent's allowed tools as its scope policy,
 * open or close its agent-scope breaker). The routes do the I/O the decision asks for.
 */
import type { AgentState, LifecycleState, RegistryChange } from '../../../storage/tables/agent-registry.js';
import { ApiError } from '../errors.js';

/**
 * Legal lifecycle moves. Promotion goes one step at a time (development -> staging ->
 * production) so nothing reaches production without passing staging; demotion one step back;
 * any state may retire. Retired is final: the history stays, the name is not reused.
 */
export const LIFECYCLE_MOVES: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = Object.freeze({
  development: ['staging', 'retired'],
  staging: ['development', 'production', 'retired'],
  production: ['staging', 'retired'],
  retired: [],
});

export type AgentCommand =
  | { kind: 'register'; agentId: string; owner: string; lifecycle: Exclude<LifecycleState, 'retired'>; allowedTools: string[] | null }
  | { kind: 'update'; owner?: string; allowedTools?: string[] | null }
  | { kind: 'lifecycle'; to: LifecycleState }
  | { kind: 'suspend' }
  | { kind: 'resume' };

export interface AgentDecision {
  state: AgentState;
  change: RegistryChange;
  /** What changed, in words, for the history. */
  detail: string;
  /** The allowed tools changed (or were set at registration): publish the agent's scope policy anew. */
  publishScope: boolean;
  /** The agent-scope breaker: open it (suspend, retire), close it (resume), or leave it. */
  breaker: 'halt' | 'reset' | null;
}

const conflict = (message: string) => new ApiError('CONFLICT', message);

function toolsText(tools: readonly string[] | null): string {
  return tools === null ? 'any tool' : tools.length === 0 ? 'no tools' : tools.join(', ');
}

function sameTools(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  const [left, right] = [[...a].sort(), [...b].sort()];
  return left.length === right.length && left.every((tool, i) => tool === right[i]);
}

/**
 * What `command` does to the agent `current` (null: not registered). Refusals are CONFLICT
 * (409): the request is well formed, the agent's state does not allow it.
 */
export function decideAgentChange(current: AgentState | null, command: AgentCommand): AgentDecision {
  if (command.kind === 'register') {
    if (current !== null) throw conflict(`agent '${command.agentId}' is already registered (${current.lifecycle}); change it with PATCH`);
    const state: AgentState = { agentId: command.agentId, owner: command.owner, lifecycle: command.lifecycle, suspended: false, allowedTools: command.allowedTools };
    return { state, change: 'registered', detail: `registered in ${command.lifecycle}, owner ${command.owner}, allowed ${toolsText(command.allowedTools)}`, publishScope: command.allowedTools !== null, breaker: null };
  }
  if (current === null) throw new Error('decideAgentChange: only register applies to an unregistered agent');
  if (current.lifecycle === 'retired') throw conflict(`agent '${current.agentId}' is retired; its history is kept but it cannot change (register a new agent id)`);

  switch (command.kind) {
    case 'update': {
      const changes: string[] = [];
      const state = { ...current };
      if (command.owner !== undefined && command.owner !== current.owner) {
        changes.push(`owner ${current.owner} -> ${command.owner}`);
        state.owner = command.owner;
      }
      const toolsChanged = command.allowedTools !== undefined && !sameTools(command.allowedTools, current.allowedTools);
      if (toolsChanged) {
        changes.push(`allowed tools ${toolsText(current.allowedTools)} -> ${toolsText(command.allowedTools!)}`);
        state.allowedTools = command.allowedTools!;
      }
      if (changes.length === 0) throw new ApiError('INVALID_REQUEST', 'body: changes nothing (owner and allowedTools are as they are)', { field: 'body' });
      return { state, change: 'updated', detail: changes.join('; '), publishScope: toolsChanged, breaker: null };
    }
    case 'lifecycle': {
      if (!LIFECYCLE_MOVES[current.lifecycle].includes(command.to)) {
        const legal = LIFECYCLE_MOVES[current.lifecycle];
        throw conflict(`agent '${current.agentId}' cannot move from ${current.lifecycle} to ${command.to} (from ${current.lifecycle}: ${legal.join(', ')})`);
      }
      // A retired agent must not start runs: its breaker opens, unless a suspension holds it open already.
      const breaker = command.to === 'retired' && !current.suspended ? 'halt' : null;
      return { state: { ...current, lifecycle: command.to }, change: 'lifecycle', detail: `${current.lifecycle} -> ${command.to}${breaker ? '; agent breaker opened' : ''}`, publishScope: false, breaker };
    }
    case 'suspend':
      if (current.suspended) throw conflict(`agent '${current.agentId}' is already suspended`);
      return { state: { ...current, suspended: true }, change: 'suspended', detail: 'suspended; agent breaker opened', publishScope: false, breaker: 'halt' };
    case 'resume':
      if (!current.suspended) throw conflict(`agent '${current.agentId}' is not suspended`);
      return { state: { ...current, suspended: false }, change: 'resumed', detail: 'resumed; agent breaker reset', publishScope: false, breaker: 'reset' };
  }
}
