/** The messages between the agent's thread and the producer thread (producer-worker.ts). */
import type { PackedBatch } from './encoded-spans.js';

export interface ProducerWorkerData {
  brokers: string[];
  clientId: string;
  topic: string;
  /** URL of the worker body module (producer-worker.ts, or .js when compiled). */
  body: string;
}

export type ToProducer =
  | { type: 'send'; id: number; batch: PackedBatch }
  | { type: 'close' };

export type FromProducer =
  | { type: 'ready' }
  | { type: 'start-failed'; message: string }
  | { type: 'sent'; id: number }
  | { type: 'failed'; id: number; name: string; message: string }
  | { type: 'log'; line: string }
  | { type: 'closed' };
