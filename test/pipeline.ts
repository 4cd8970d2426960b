/** The processor and sink on fresh topics of the real broker and a fresh chDB: what an
 *  integration test of the whole path starts before it sends anything. */
import type { EventLog } from '../log/port.js';
import type { Topics } from '../log/topics.js';
import { silentLogger } from '../services/logger.js';
import { createProcessor, type Processor } from '../services/processor/processor.js';
import { createSink, type Sink } from '../services/sink/sink.js';
import type { Store } from '../storage/store.js';
import { freshKafka } from './kafka.js';
import { freshStore } from './store.js';

export interface Pipeline {
  log: EventLog;
  topics: Topics;
  prefix: string;
  store: Store;
  processor: Processor;
  sink: Sink;
  /** Stops both services, then closes the log and the store. */
  stop(): Promise<void>;
}

export async function startPipeline(partitions = 3): Promise<Pipeline> {
  const { log, topics, prefix } = await freshKafka(partitions);
  const store = await freshStore();
  const processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor` });
  const sink = createSink({ log, topics, store, logger: silentLogger, groupId: `${prefix}.sink` });
  await Promise.all([processor.start(), sink.start()]);
  return {
    log, topics, prefix, store, processor, sink,
    async stop() {
      await Promise.allSettled([processor.stop(), sink.stop()]);
      await log.close();
      await store.close();
    },
  };
}
