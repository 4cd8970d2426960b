import { Partitioners } from './kafkajs.js';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from './partitioner.js';

describe('key partitioner', () => {
  it('agrees with kafkajs (and so the Java client) on every key length', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'run-6f1d2c', 'tree-é-ü', ...Array.from({ length: 200 }, (_, i) => `tree-${i * 7919}`)];
    for (const key of keys) {
      expect(partitionForKey(key, 12), key).toBe(kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }));
    }
  });
});
