import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the embedded log and chDB under .data', () => {
    expect(loadConfig({})).toEqual({ kafkaBrokers: null, clickhouse: { kind: 'chdb', path: '.data/chdb' }, dataDir: '.data', topicPrefix: 'fusebox', partitions: 6, metrics: { host: '127.0.0.1', port: null } });
  });

  it('reads brokers and a ClickHouse server; empty values count as unset', () => {
    const config = loadConfig({ KAFKA_BROKERS: '10.0.0.1:9092, 10.0.0.2:9092', CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_PASSWORD: '', FUSEBOX_PARTITIONS: '12' });
    expect(config.kafkaBrokers).toEqual(['10.0.0.1:9092', '10.0.0.2:9092']);
    expect(config.clickhouse).toEqual({ kind: 'server', url: 'http://ch:8123', database: 'default', username: undefined, password: undefined });
    expect(config.partitions).toBe(12);
    expect(loadConfig({ FUSEBOX_METRICS_PORT: '0' }).metrics.port).toBe(0);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable and how to fix it', () => {
    let error: unknown;
    try {
      loadConfig({ KAFKA_BROKERS: 'localhost', FUSEBOX_PARTITIONS: 'many' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^KAFKA_BROKERS="localhost": expected host:port/),
      expect.stringMatching(/^FUSEBOX_PARTITIONS="many"/),
    ]);
  });
});
