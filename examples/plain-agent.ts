/**
 * A plain TypeScript agent instrumented with Fusebox in two lines (marked below): a research
 * agent whose search tool is down keeps asking its model what to do, the model keeps saying
 * "search again" with the same query, and Fusebox's loop breaker halts it.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npm start            # Fusebox with a processor, in one terminal
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/plain-agent.ts
 */
import { pathToFileURL } from 'node:url';
import { createFusebox, RunHalted, type FuseboxOptions } from '../client/index.js';

export interface ExampleResult {
  toolCalls: number;
  halted: RunHalted | null;
}

// The agent's own code: a model and a tool, nothing Fusebox-specific.
async function askModel(goal: string, thinkMs: number): Promise<{ next: { tool: 'web_search'; query: string }; usage: { promptTokens: number; completionTokens: number } }> {
  await new Promise((ok) => setTimeout(ok, thinkMs)); // a model takes a while to answer
  return { next: { tool: 'web_search', query: goal }, usage: { promptTokens: 1_200, completionTokens: 25 } };
}

async function webSearch(query: string): Promise<string[]> {
  throw new Error(`HTTP 503 Service Unavailable (searching '${query}')`);
}

export async function runPlainAgent(connection: Pick<FuseboxOptions, 'brokers' | 'log' | 'topicPrefix' | 'transport' | 'url' | 'apiKey'>, options: { thinkMs?: number; maxIterations?: number } = {}): Promise<ExampleResult> {
  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'plain-researcher', ...connection }); // Fusebox line 1
  const run = await fusebox.startRun({ name: 'market research' }); //                                     Fusebox line 2
  const plan = run.wrapModel({ model: 'gpt-4o', provider: 'openai' }, askModel, (r) => ({ inputTokens: r.usage.promptTokens, outputTokens: r.usage.completionTokens }));
  let toolCalls = 0; // executions of the tool itself, to show what the breaker spared
  const search = run.wrapTool('web_search', (query: string) => { toolCalls += 1; return webSearch(query); });

  let halted: RunHalted | null = null;
  try {
    for (let i = 0; i < (options.maxIterations ?? 20); i++) {
      const { next } = await plan('fusebox pricing', options.thinkMs ?? 300);
      try {
        await search(next.query);
      } catch (error) {
        if (error instanceof RunHalted) throw error;
        // A failed search: the agent, like many, simply asks its model again.
      }
    }
  } catch (error) {
    if (!(error instanceof RunHalted)) throw error;
    halted = error;
  } finally {
    run.end(halted ? 'error' : 'ok', halted?.message);
    await fusebox.close();
  }
  return { toolCalls, halted };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const brokers = process.env.KAFKA_BROKERS?.split(',');
  if (!brokers) throw new Error('set KAFKA_BROKERS to a broker that a Fusebox processor reads (KAFKA_BROKERS=... npm start runs one)');
  const { toolCalls, halted } = await runPlainAgent({ brokers, topicPrefix: process.env.FUSEBOX_TOPIC_PREFIX });
  console.log(halted ? `halted after ${toolCalls} tool calls: ${halted.message}` : `not halted after ${toolCalls} tool calls`);
}
