/** What both examples share and is not about instrumenting: ending the run, running from a shell. */
import { pathToFileURL } from 'node:url';
import { RunHalted, type Fusebox, type FuseboxOptions, type Run } from '../client/index.js';

export type Connection = Pick<FuseboxOptions, 'brokers' | 'log' | 'topicPrefix' | 'transport' | 'url' | 'apiKey'>;

export interface ExampleResult {
  /** Executions of the tool itself: what the breaker spared is what did not run. */
  toolCalls: number;
  halted: RunHalted | null;
}

/** Runs the agent's loop until it ends or is halted; ends the run and closes the client either way. */
export async function untilHalted(fusebox: Fusebox, run: Run, loop: () => Promise<void>): Promise<RunHalted | null> {
  let halted: RunHalted | null = null;
  try {
    await loop();
  } catch (error) {
    if (!(error instanceof RunHalted)) throw error;
    halted = error;
  } finally {
    run.end(halted ? 'error' : 'ok', halted?.message);
    await fusebox.close();
  }
  return halted;
}

/** `npx tsx examples/<agent>.ts` against a broker that a Fusebox processor reads. */
export async function runFromShell(moduleUrl: string, agent: (connection: Connection) => Promise<ExampleResult>): Promise<void> {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  const brokers = process.env.KAFKA_BROKERS?.split(',');
  if (!brokers) throw new Error('set KAFKA_BROKERS to a broker that a Fusebox processor reads (KAFKA_BROKERS=... npm start runs one)');
  const { toolCalls, halted } = await agent({ brokers, topicPrefix: process.env.FUSEBOX_TOPIC_PREFIX });
  console.log(halted ? `halted after ${toolCalls} tool calls: ${halted.message}` : `not halted after ${toolCalls} tool calls`);
}
