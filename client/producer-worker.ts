/**
 * The body of the producer thread (see producer-thread.ts): a kafkajs producer that sends the
 * batches the agent's thread packed, so batching into produce requests, record encoding, CRC
 * and socket writes never run on the agent's event loop. It holds no spans of its own: one
 * batch at a time, answered with `sent` or `failed` (the agent's emitter keeps the spans and
 * retries, exactly as it did with the producer in its own thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createKafkaLog } from '../log/kafka.js';
import type { LogProducer } from '../log/port.js';
import { unpack } from './encoded-spans.js';
import type { ProducerWorkerData, ToProducer, FromProducer } from './producer-protocol.js';

const port = parentPort!;
const { brokers, clientId, topic } = workerData as ProducerWorkerData;
const log = createKafkaLog({ brokers, clientId, log: (line) => post({ type: 'log', line }) });

function post(message: FromProducer): void {
  port.postMessage(message);
}

let producer: LogProducer | null = null;
try {
  producer = await log.producer();
  post({ type: 'ready' });
} catch (error) {
  post({ type: 'start-failed', message: (error as Error).message });
  await log.close().catch(() => {});
  port.close();
}

port.on('message', async (message: ToProducer) => {
  if (message.type === 'send') {
    try {
      await producer!.send(topic, unpack(message.batch));
      post({ type: 'sent', id: message.id });
    } catch (error) {
      post({ type: 'failed', id: message.id, name: (error as Error).name, message: (error as Error).message });
    }
  } else {
    await producer?.close().catch(() => {});
    await log.close().catch(() => {});
    post({ type: 'closed' });
    port.close();
  }
});
