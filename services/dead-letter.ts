/**
 * The dead-letter topic: a message a consumer cannot read goes there with its reason, and the
 * good messages beside it flow on. Records are JSON, not Avro, on purpose: they must stay
 * readable precisely when the payload is not.
 */
import { z } from 'zod';
import type { LogMessage, LogProducer, OutgoingMessage } from '../log/port.js';
import { SchemaError } from '../schemas/index.js';

export const deadLetterSchema = z.object({
  /** Which consumer gave up on it (processor, sink). */
  source: z.string(),
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  key: z.string().nullable(),
  /** A stable code to branch on (a SchemaError code, KEY_MISMATCH, EMPTY_VALUE). */
  code: z.string(),
  reason: z.string(),
  /** The original bytes, base64, so nothing is lost and the event can be repaired and replayed. */
  payloadBase64: z.string().nullable(),
  /** For items refused at an HTTP edge (the gateway): the API key's tenant, never the payload's. */
  tenantId: z.string().optional(),
});
export type DeadLetter = z.output<typeof deadLetterSchema>;

export function deadLetterFor(source: string, message: LogMessage, code: string, reason: string): OutgoingMessage {
  const record: DeadLetter = {
    source,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key,
    code,
    reason,
    payloadBase64: message.value ? message.value.toString('base64') : null,
  };
  return { key: `${message.topic}/${message.partition}/${message.offset}`, value: Buffer.from(JSON.stringify(record)) };
}

/** A batch's dead letters, collected as its messages are read; `counted` hears each code. */
export interface BatchDeadLetters {
  readonly messages: OutgoingMessage[];
  add(message: LogMessage, code: string, reason: string): void;
  /** The message decoded by `codec`, or undefined once it is dead-lettered with the codec's reason. */
  decode<T>(codec: { decode(value: Buffer): T }, message: LogMessage): T | undefined;
}

export function batchDeadLetters(source: string, counted: (code: string) => void = () => {}): BatchDeadLetters {
  const messages: OutgoingMessage[] = [];
  const add = (message: LogMessage, code: string, reason: string) => {
    messages.push(deadLetterFor(source, message, code, reason));
    counted(code);
  };
  return {
    messages,
    add,
    decode(codec, message) {
      try {
        return codec.decode(message.value ?? Buffer.alloc(0));
      } catch (error) {
        if (!(error instanceof SchemaError)) throw error;
        add(message, error.code, error.message);
        return undefined;
      }
    },
  };
}

/**
 * An item refused before it reached any topic (a span in an HTTP batch): `topic` is where it was
 * headed, partition -1 and offset '-1' say it was never written; the key names the request and
 * the item's index in it.
 */
export function deadLetterForItem(source: string, item: { topic: string; tenantId: string; requestId: string; index: number; code: string; reason: string; payload: Buffer }): OutgoingMessage {
  const record: DeadLetter = {
    source,
    topic: item.topic,
    partition: -1,
    offset: '-1',
    key: null,
    code: item.code,
    reason: item.reason,
    payloadBase64: item.payload.toString('base64'),
    tenantId: item.tenantId,
  };
  return { key: `${source}/${item.requestId}/${item.index}`, value: Buffer.from(JSON.stringify(record)) };
}

export async function sendDeadLetters(producer: LogProducer, topic: string, letters: OutgoingMessage[]): Promise<void> {
  if (letters.length > 0) await producer.send(topic, letters);
}
