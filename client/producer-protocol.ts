/** The messages between the agent's thread and the client's Kafka thread (producer-worker.ts). */
import type { FollowFrom, LogMessage } from '../log/port.js';
import type { PackedBatch } from './encoded-spans.js';

export interface ProducerWorkerData {
  brokers: string[];
  clientId: string;
  topic: string;
  /** The topics the thread's readers read (control, control-early, policies): one kafkajs consumer for all. */
  readerTopics?: string[];
  /** URL of the worker body module (producer-worker.ts, or .js when compiled). */
  body: string;
}

/** What the agent's thread asks for and waits on: each is answered with `done` or `failed` by id. */
export type Request =
  | { type: 'send'; batch: PackedBatch }
  | { type: 'partitions'; topic: string }
  | { type: 'reader-start'; reader: number; topic: string; contact: boolean }
  | { type: 'follow'; reader: number; partition: number; from: FollowFrom }
  | { type: 'reader-stop'; reader: number };

export type ToProducer =
  | (Request & { id: number })
  | { type: 'unfollow'; reader: number; partition: number }
  | { type: 'close' };

export type FromProducer =
  | { type: 'ready' }
  | { type: 'start-failed'; message: string }
  /** `value`: the partition count for `partitions`. */
  | { type: 'done'; id: number; value?: number }
  | { type: 'failed'; id: number; name: string; message: string }
  /** A message a reader delivered; its key and value as they came, the value copied to a buffer of its own. */
  | { type: 'message'; reader: number; message: LogMessage }
  /** A reader heard from the log (group heartbeat or join). */
  | { type: 'contact'; reader: number }
  | { type: 'log'; line: string }
  | { type: 'closed' };
