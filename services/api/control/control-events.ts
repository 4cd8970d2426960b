/**
 * Operator halts and resets as ControlEvents, and the messages that carry them to the control
 * topic. Pure: the event id and time are inputs.
 *
 * Where the event lands is services/control-messages.ts's business.
 */
import { controlEventSchema, type ControlEvent } from '../../../schemas/index.js';

export type ControlTarget =
  | { scope: 'run'; runId: string; treeId: string }
  | { scope: 'tree'; treeId: string }
  | { scope: 'agent'; agentId: string };

/** What an operator asked for: halt opens the target's breaker (a kill), reset closes it. */
export type OperatorAction = 'halt' | 'reset';

export interface OperatorCommand {
  eventId: string;
  tenantId: string;
  target: ControlTarget;
  action: OperatorAction;
  /** Why, in the operator's words, and who: shown to the halted agent in RunHalted.reason. */
  message: string;
  timeMs: number;
}

export function operatorControlEvent(command: OperatorCommand): ControlEvent {
  const { target } = command;
  return controlEventSchema.parse({
    eventId: command.eventId,
    tenantId: command.tenantId,
    scope: target.scope,
    target: target.scope === 'run' ? target.runId : target.scope === 'tree' ? target.treeId : target.agentId,
    treeId: target.scope === 'agent' ? null : target.treeId,
    // kill, not trip: a trip is a detector's decision; the engine and clients treat an
    // operator's kill as the same open breaker, and RunHalted tells the agent which it was.
    action: command.action === 'halt' ? 'kill' : 'reset',
    reason: { detector: 'operator', threshold: 0, observed: 0, windowMs: null, message: command.message },
    policyId: null,
    policyVersion: null,
    timeMs: command.timeMs,
  });
}
