/**
 * Both examples, as written, against the real broker and the real processor: each agent loops
 * on a failing search and is halted by the loop breaker, well before it runs out of steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../log/port.js';
import { silentLogger } from '../services/logger.js';
import { createProcessor, type Processor } from '../services/processor/processor.js';
import { brokers, freshKafka } from '../test/kafka.js';
import { runPlainAgent } from './plain-agent.js';
import type { ExampleResult } from './shell.js';
import { runVercelAiAgent } from './vercel-ai-agent.js';

describe('examples (real broker, real processor)', () => {
  let log: EventLog;
  let prefix: string;
  let processor: Processor;

  beforeAll(async () => {
    let topics;
    ({ log, topics, prefix } = await freshKafka(3));
    processor = createProcessor({ log, topics, logger: silentLogger, groupId: `${prefix}.processor` });
    await processor.start();
  }, 120_000);

  afterAll(async () => {
    await processor?.stop();
    await log?.close();
  });

  const expectHaltedByLoop = ({ halted, toolCalls }: ExampleResult) => {
    expect(halted?.reason).toMatchObject({ detector: 'loop', threshold: 3, observed: 3 });
    expect(halted?.policy).toEqual({ id: 'builtin:loop', version: 1 });
    // Three identical failures trip it; the trip has a model call's time (300 ms) to arrive.
    expect(toolCalls).toBeGreaterThanOrEqual(3);
    expect(toolCalls).toBeLessThan(8);
  };

  it('halts the plain TypeScript agent', async () => {
    expectHaltedByLoop(await runPlainAgent({ brokers: brokers(), topicPrefix: prefix }));
  }, 60_000);

  it('halts the Vercel AI SDK agent', async () => {
    expectHaltedByLoop(await runVercelAiAgent({ brokers: brokers(), topicPrefix: prefix }));
  }, 60_000);
});
