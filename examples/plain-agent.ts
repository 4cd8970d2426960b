/**
 * A plain TypeScript agent instrumented with Fusebox in two lines (marked below): a research
 * agent whose search tool is down keeps asking its model what to do, the model keeps saying
 * "search again" with the same query, and Fusebox's loop breaker halts it.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npm start            # Fusebox with a processor, in one terminal
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/plain-agent.ts
 */
import { createFusebox, RunHalted } from '../client/index.js';
import { runFromShell, untilHalted, type Connection, type ExampleResult } from './shell.js';

// The agent's own code: a model and a tool, nothing Fusebox-specific.
async function askModel(goal: string, thinkMs: number): Promise<{ next: { tool: 'web_search'; query: string }; usage: { promptTokens: number; completionTokens: number } }> {
  await new Promise((ok) => setTimeout(ok, thinkMs)); // a model takes a while to answer
  return { next: { tool: 'web_search', query: goal }, usage: { promptTokens: 1_200, completionTokens: 25 } };
}

async function webSearch(query: string): Promise<string[]> {
  throw new Error(`HTTP 503 Service Unavailable (searching '${query}')`);
}

export async function runPlainAgent(connection: Connection, options: { thinkMs?: number; maxIterations?: number } = {}): Promise<ExampleResult> {
  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'plain-researcher', ...connection }); // Fusebox line 1
  const run = await fusebox.startRun({ name: 'market research' }); //                                     Fusebox line 2
  const plan = run.wrapModel({ model: 'gpt-4o', provider: 'openai' }, askModel, (r) => ({ inputTokens: r.usage.promptTokens, outputTokens: r.usage.completionTokens }));
  let toolCalls = 0; // executions of the tool itself, to show what the breaker spared
  const search = run.wrapTool('web_search', (query: string) => { toolCalls += 1; return webSearch(query); });

  const halted = await untilHalted(fusebox, run, async () => {
    for (let i = 0; i < (options.maxIterations ?? 20); i++) {
      const { next } = await plan('fusebox pricing', options.thinkMs ?? 300);
      try {
        await search(next.query);
      } catch (error) {
        if (error instanceof RunHalted) throw error;
        // A failed search: the agent, like many, simply asks its model again.
      }
    }
  });
  return { toolCalls, halted };
}

await runFromShell(import.meta.url, runPlainAgent);
