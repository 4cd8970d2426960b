/**
 * vitest global setup for integration tests: a real Kafka broker for the whole run.
 * KAFKA_BROKERS points the tests at an existing cluster instead. A broker that cannot start
 * fails the run: integration tests never skip (CI=true or not), they have nothing to fake with.
 */
import type { TestProject } from 'vitest/node';
import { startKafkaBroker, type KafkaBroker } from '../scripts/kafka/broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

let broker: KafkaBroker | undefined;

export async function setup(project: TestProject): Promise<void> {
  const existing = process.env.KAFKA_BROKERS;
  if (existing) {
    project.provide('kafkaBrokers', existing);
    return;
  }
  try {
    broker = await startKafkaBroker({ log: (line) => console.log(`[kafka] ${line}`), defaultPartitions: 3 });
  } catch (error) {
    throw new Error(`integration tests need a real Kafka broker and none could be started (set KAFKA_BROKERS to use an existing one): ${(error as Error).message}`, { cause: error });
  }
  project.provide('kafkaBrokers', broker.brokers);
}

export async function teardown(): Promise<void> {
  await broker?.stop();
}
