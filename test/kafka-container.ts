/**
 * A Kafka broker in a container (testcontainers), for machines with a Docker engine: the
 * integration tests' broker when no KAFKA_BROKERS is given and an engine answers. Machines
 * without one (these build boxes have the docker client and no daemon) run the broker from its
 * Maven Central jars instead (scripts/kafka/broker.ts); both are single-node KRaft brokers of
 * the 3.9 line, configured alike where the tests depend on it.
 *
 * The image is Confluent's (what @testcontainers/kafka 11 knows how to configure and to
 * advertise on its mapped port); cp-kafka 7.9 is Apache Kafka 3.9, the broker version the
 * jar path pins. FUSEBOX_TEST_KAFKA_IMAGE picks another.
 */

export const KAFKA_IMAGE = 'confluentinc/cp-kafka:7.9.0';

/** Where the suite's broker comes from. */
export type KafkaSource = 'existing' | 'container' | 'local';

/**
 * KAFKA_BROKERS wins; then FUSEBOX_TEST_KAFKA (`container` or `local`) if set; otherwise a
 * container when a Docker engine answers, the local jars when none does.
 */
export function chooseKafkaSource(env: NodeJS.ProcessEnv, engineAnswers: boolean): KafkaSource {
  if (env.KAFKA_BROKERS) return 'existing';
  const asked = env.FUSEBOX_TEST_KAFKA;
  if (asked !== undefined && asked !== '' && asked !== 'container' && asked !== 'local') {
    throw new Error(`FUSEBOX_TEST_KAFKA must be 'container' or 'local' (or unset: a container when a Docker engine answers), got '${asked}'`);
  }
  if (asked === 'local') return 'local';
  if (asked === 'container') {
    if (!engineAnswers) throw new Error('FUSEBOX_TEST_KAFKA=container, but no Docker engine answers (testcontainers found no container runtime)');
    return 'container';
  }
  return engineAnswers ? 'container' : 'local';
}

/** Whether testcontainers finds a container runtime (a few ms when there is none). */
export async function containerEngineAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export interface KafkaInContainer {
  readonly brokers: string;
  stop(): Promise<void>;
}

export async function startKafkaContainer(log: (line: string) => void): Promise<KafkaInContainer> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const image = process.env.FUSEBOX_TEST_KAFKA_IMAGE || KAFKA_IMAGE;
  log(`starting ${image} in a container (testcontainers)`);
  const container = await new KafkaContainer(image)
    .withKraft()
    .withEnvironment({
      // As scripts/kafka/broker.ts: one node holds every internal topic, topics are only
      // created on purpose (tests assert the error for a missing one), 3 partitions by default.
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '1',
      KAFKA_MIN_INSYNC_REPLICAS: '1',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_NUM_PARTITIONS: '3',
      KAFKA_LOG_CLEANER_DEDUPE_BUFFER_SIZE: '33554432',
    })
    .start();
  const brokers = `${container.getHost()}:${container.getMappedPort(9093)}`;
  log(`Kafka ready at ${brokers} (container ${container.getId().slice(0, 12)})`);
  return {
    brokers,
    async stop() {
      await container.stop();
    },
  };
}
