import { describe, expect, it } from 'vitest';
import { chooseKafkaSource } from './kafka-container.js';

describe('where the integration tests get their Kafka broker', () => {
  it.each([
    [{ KAFKA_BROKERS: 'b:9092' }, true, 'existing'],
    [{ KAFKA_BROKERS: 'b:9092', FUSEBOX_TEST_KAFKA: 'container' }, false, 'existing'],
    [{}, true, 'container'],
    [{}, false, 'local'],
    [{ FUSEBOX_TEST_KAFKA: 'local' }, true, 'local'],
    [{ FUSEBOX_TEST_KAFKA: 'container' }, true, 'container'],
    [{ FUSEBOX_TEST_KAFKA: '' }, false, 'local'],
  ] as const)('%o with an engine answering: %s -> %s', (env, engine, source) => {
    expect(chooseKafkaSource(env, engine)).toBe(source);
  });

  it('refuses a container asked for where no engine answers, and a source it does not know, saying why', () => {
    expect(() => chooseKafkaSource({ FUSEBOX_TEST_KAFKA: 'container' }, false)).toThrow(/no Docker engine answers/);
    expect(() => chooseKafkaSource({ FUSEBOX_TEST_KAFKA: 'docker' }, true)).toThrow(/must be 'container' or 'local'.*got 'docker'/);
  });
});
