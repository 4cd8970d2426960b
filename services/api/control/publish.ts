/**
 * Publishes an operator's halt or reset: the ControlEvent to the control topic first (that is
 * what stops agents), then its record in control_actions (what "open breakers" reads).
 */
import type { ControlEvent } from '../../../schemas/index.js';
import { insertControlAction } from '../../../storage/tables/control-actions.js';
import { ApiError } from '../errors.js';
import type { ApiDeps } from '../route.js';
import { controlMessages } from '../../control-messages.js';
import { operatorControlEvent, type OperatorCommand } from './control-events.js';

export async function publishOperatorCommand(deps: ApiDeps, command: OperatorCommand, keyId: string): Promise<{ event: ControlEvent; messages: number }> {
  const event = operatorControlEvent(command);
  let messages: { key: string; value: Buffer }[];
  try {
    const partitions = await deps.log.partitionCount(deps.topics.control);
    messages = controlMessages(event, partitions);
    const producer = await deps.producer();
    await producer.send(deps.topics.control, messages);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError('LOG_UNAVAILABLE', `the ${command.action} was not published to the control topic; nothing changed, try again`, { cause: error });
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
  return { event, messages: messages.length };
}
