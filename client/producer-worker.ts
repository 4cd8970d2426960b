/**
 * The body of the client's Kafka thread (see producer-thread.ts): a producer (log/wire/) that sends
 * the batches the agent's thread packed, and the client's readers (control, control-early,
 * policies), so batching into produce requests, record encoding, CRC, socket writes, the
 * readers' fetch loop and their group heartbeats never run on the agent's event loop.
 *
 * It holds no spans and no state of the client's: one batch at a time, answered with `done` or
 * `failed` (the agent's emitter keeps the spans and retries); each message a reader delivers is
 * posted as it came, and decoded and applied (breaker board, policy book) on the agent's thread,
 * where guard() reads them synchronously.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createKafkaLog } from '../log/kafka.js';
import type { LogMessage, LogProducer, PartitionReader } from '../log/port.js';
import { unpack } from './encoded-spans.js';
import type { FromProducer, ProducerWorkerData, Request, ToProducer } from './producer-protocol.js';

const port = parentPort!;
lowerThisThreadsPriority();
const { brokers, clientId, topic, readerTopics } = workerData as ProducerWorkerData;
// Readers ask every 100 ms when idle rather than 25: a fetch returns as soon as a trip is there,
// and at 25 the readers took a fifth of this thread's CPU. Not longer: a partition newly
// followed (a run's tree on a partition this client never read) waits behind the fetch in
// flight, and at 250 ms that showed as a 120 ms tail on the first trips of a fresh client.
// The readers (control, control-early, policies, breaker-state) share one fetch loop
// (`sharedReaderTopics`): it is what an idle agent's thread costs (BENCHMARKS.md, findings 4, 6).
const log = createKafkaLog({ brokers, clientId, readerMaxWaitTimeInMs: 100, sharedReaderTopics: readerTopics, log: (line) => post({ type: 'log', line }) });
const readers = new Map<number, PartitionReader>();

function post(message: FromProducer): void {
  port.postMessage(message);
}

/** Copied to an exact-size buffer: kafkajs's values are views into whole fetch responses, which would all be cloned. */
function deliver(reader: number, message: LogMessage): void {
  const value = message.value === null ? null : new Uint8Array(message.value);
  post({ type: 'message', reader, message: { ...message, value: value as Buffer | null } });
}

async function answer(request: Request): Promise<number | undefined> {
  switch (request.type) {
    case 'send':
      await producer!.send(topic, unpack(request.batch));
      return undefined;
    case 'partitions':
      return log.partitionCount(request.topic);
    case 'reader-start': {
      const id = request.reader;
      const reader = log.reader(request.topic, (message) => deliver(id, message), request.contact ? { onContact: () => post({ type: 'contact', reader: id }) } : {});
      readers.set(id, reader);
      await reader.start();
      return undefined;
    }
    case 'follow':
      await readers.get(request.reader)!.follow(request.partition, request.from);
      return undefined;
    case 'reader-stop': {
      const reader = readers.get(request.reader);
      readers.delete(request.reader);
      await reader?.stop();
      return undefined;
    }
  }
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
  if (message.type === 'close') {
    // Stops the readers (leaving their private groups) and the producer.
    await log.close().catch(() => {});
    post({ type: 'closed' });
    port.close();
  } else if (message.type === 'unfollow') {
    readers.get(message.reader)?.unfollow(message.partition);
  } else {
    try {
      post({ type: 'done', id: message.id, value: await answer(message) });
    } catch (error) {
      post({ type: 'failed', id: message.id, name: (error as Error).name, message: (error as Error).message });
    }
  }
});

/**
 * On Linux a thread has a nice value of its own: this one yields the CPU to the agent's thread
 * when they compete (nice 10), so the Kafka clients' work waits a little rather than the agent.
 * It yields to every other process at nice 0 too, so on a saturated host spans and trips wait longer (see
 * BENCHMARKS.md, Findings 2 and 6). Elsewhere (no /proc/thread-self) nothing changes.
 */
function lowerThisThreadsPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // not Linux, or not allowed: the thread keeps the process's priority
  }
}
