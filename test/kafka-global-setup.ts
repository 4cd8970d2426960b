/**
 * vitest global setup for integration tests: a real Kafka broker for the whole run. Where it
 * comes from (./kafka-container.ts, `chooseKafkaSource`): KAFKA_BROKERS points the tests at an
 * existing cluster; otherwise a container (testcontainers) when a Docker engine answers, and the
 * broker from its Maven Central jars when none does (these build machines). A broker that cannot
 * start fails the run: integration tests never skip (CI=true or not), they have nothing to fake
 * with. The outage tests start brokers of their own from the jars either way: they stop and
 * restart the JVM on the same ports.
 */
import type { TestProject } from 'vitest/node';
import { startKafkaBroker } from '../scripts/kafka/broker.js';
import { chooseKafkaSource, containerEngineAnswers, startKafkaContainer } from './kafka-container.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

let broker: { brokers: string; stop(): Promise<void> } | undefined;

export async function setup(project: TestProject): Promise<void> {
  const source = chooseKafkaSource(process.env, process.env.KAFKA_BROKERS ? false : await containerEngineAnswers());
  if (source === 'existing') {
    project.provide('kafkaBrokers', process.env.KAFKA_BROKERS!);
    return;
  }
  const log = (line: string) => console.log(`[kafka] ${line}`);
  try {
    broker = source === 'container' ? await startKafkaContainer(log) : await startKafkaBroker({ log, defaultPartitions: 3 });
  } catch (error) {
    const other = source === 'container' ? 'FUSEBOX_TEST_KAFKA=local runs it from its jars instead' : 'a Docker engine would run it in a container';
    throw new Error(`integration tests need a real Kafka broker and none could be started (${source}; ${other}; KAFKA_BROKERS uses an existing one): ${(error as Error).message}`, { cause: error });
  }
  project.provide('kafkaBrokers', broker.brokers);
}

export async function teardown(): Promise<void> {
  await broker?.stop();
}
