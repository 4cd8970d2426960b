/**
 * Publishes an operator's halt or reset: the ControlEvent to the control topic first (that is
 * what stops agents), then to the breaker-state topic, where it stands (what a client or a
 * gateway started later reads, services/control-messages.ts), then its record in
 * control_actions (what "open breakers" reads).
 */
import type { ControlEvent } from '../../../schemas/index.js';
import { insertControlAction } from '../../../storage/tables/control-actions.js';
import { ApiError } from '../errors.js';
import type { ApiDeps } from '../route.js';
import { controlMessages, standingMessage } from '../../control-messages.js';
import { operatorControlEvent, type OperatorCommand } from './control-events.js';

export async function publishOperatorCommand(deps: ApiDeps, command: OperatorCommand, keyId: string): Promise<{ event: ControlEvent; messages: number }> {
  const event = operatorControlEvent(command);
  let messages: { key: string; value: Buffer }[];
  let producer;
  try {
    const partitions = await deps.log.partitionCount(deps.topics.control);
    messages = controlMessages(event, partitions);
    producer = await deps.producer();
    await producer.send(deps.topics.control, messages);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError('LOG_UNAVAILABLE', `the ${command.action} was not published to the control topic; nothing changed, try again`, { cause: error });
  }
  // Running agents have heard it by now. Clients started later read the breaker-state topic:
  // a failure there is reported after the record below is written (a retry publishes the same
  // command again, which is harmless).
  let unrecorded: unknown = null;
  try {
    // Operators halt and reset (never warn): every one of theirs stands.
    await producer.send(deps.topics.breakerState, [standingMessage(event, await deps.log.partitionCount(deps.topics.breakerState))!]);
  } catch (error) {
    unrecorded = error;
  }
  try {
    await insertControlAction(deps.store.client, {
      tenantId: event.tenantId, eventId: event.eventId, scope: event.scope, target: event.target, treeId: event.treeId,
      action: event.action, message: command.message, keyId, timeMs: event.timeMs,
    });
  } catch (error) {
    // The agents have it already; only the open-breaker view lags. Say so rather than fail.
    deps.logger.error('control event published but not recorded in control_actions', { eventId: event.eventId, error: (error as Error).message });
  }
  if (unrecorded) {
    throw new ApiError('LOG_UNAVAILABLE', `the ${command.action} reached running agents but was not recorded as standing (topic ${deps.topics.breakerState}): clients started from now on would not know it; try again`, { cause: unrecorded });
  }
  return { event, messages: messages.length };
}
