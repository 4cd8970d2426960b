import { defineConfig } from 'vitest/config';

// Two tiers, named in the file: *.unit.test.ts are pure (no I/O); *.int.test.ts talk to a real
// Kafka broker (started by test/kafka-global-setup.ts unless KAFKA_BROKERS is set) and chDB.
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['**/*.unit.test.ts'], exclude: ['node_modules/**'], sequence: { groupOrder: 0 } },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**'],
          globalSetup: ['test/kafka-global-setup.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // chDB binds one data directory per process: each test file runs in its own fork.
          pool: 'forks',
          // Two cores: one broker JVM plus two workers keeps the machine responsive.
          maxWorkers: 2,
        },
      },
    ],
  },
});
