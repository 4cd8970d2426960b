/**
 * An agent on the Vercel AI SDK (`generateText` with tools and a step budget), instrumented
 * with Fusebox in two lines (marked below). Its model (the SDK's MockLanguageModelV3: no
 * network model here) keeps calling `web_search` with the same query; the search service is
 * down, so the agent loops until Fusebox's loop breaker halts it.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npm start                # Fusebox with a processor, in one terminal
 *   KAFKA_BROKERS=127.0.0.1:9092 npx tsx examples/vercel-ai-agent.ts
 */
import { generateText, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { createFusebox } from '../client/index.js';
import { instrument } from './fusebox-ai-sdk.js';
import { runFromShell, untilHalted, type Connection, type ExampleResult } from './shell.js';

/** A model that always wants to search for the same thing, after thinking for `thinkMs`. */
function stubbornModel(thinkMs: number): MockLanguageModelV3 {
  let call = 0;
  return new MockLanguageModelV3({
    provider: 'mock',
    modelId: 'mock-gpt',
    doGenerate: async () => {
      await new Promise((ok) => setTimeout(ok, thinkMs));
      call += 1;
      return {
        content: [{ type: 'tool-call', toolCallId: `call-${call}`, toolName: 'web_search', input: JSON.stringify({ query: 'fusebox pricing' }) }],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage: { inputTokens: { total: 1_200, noCache: 1_200, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 25, text: 0, reasoning: 0 } },
        warnings: [],
      };
    },
  });
}

export async function runVercelAiAgent(connection: Connection, options: { thinkMs?: number; maxSteps?: number } = {}): Promise<ExampleResult> {
  let toolCalls = 0;
  const agentTools = {
    web_search: tool({
      description: 'Search the web',
      inputSchema: z.object({ query: z.string() }),
      execute: async ({ query }): Promise<string[]> => {
        toolCalls += 1;
        throw new Error(`HTTP 503 Service Unavailable (searching '${query}')`);
      },
    }),
  };

  const fusebox = await createFusebox({ tenantId: 'acme', agentId: 'ai-sdk-researcher', ...connection }); //                 Fusebox line 1
  const { model, tools, run } = instrument(await fusebox.startRun({ name: 'market research' }), { model: stubbornModel(options.thinkMs ?? 300), tools: agentTools }); // line 2

  // A refused tool call goes back to the model as a tool error; the next model call is refused and ends the run.
  const halted = await untilHalted(fusebox, run, async () => {
    await generateText({ model, tools, prompt: 'What does Fusebox cost?', stopWhen: stepCountIs(options.maxSteps ?? 20), maxRetries: 0 });
  });
  return { toolCalls, halted };
}

await runFromShell(import.meta.url, runVercelAiAgent);
