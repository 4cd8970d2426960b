/**
 * The demo agent: a researcher whose search tool is down. Like many real agents it asks its
 * model what to do, the model says "search again", and it retries with the very same
 * arguments, forever. Fusebox's loop breaker stops it.
 */
import { RunHalted, type Fusebox } from '../../client/index.js';

export interface DemoResult {
  runId: string;
  treeId: string;
  toolCalls: number;
  halted: RunHalted | null;
  /** From the 3rd failing call returning to the refusal. */
  haltedAfterMs: number | null;
}

export async function runLoopingAgent(fusebox: Fusebox, print: (line: string) => void, options: { thinkMs?: number; maxIterations?: number } = {}): Promise<DemoResult> {
  const thinkMs = options.thinkMs ?? 250;
  const run = await fusebox.startRun({ name: 'market research', userId: 'demo-user' });
  const args = { query: 'fusebox pricing', region: 'eu' };
  let toolCalls = 0;
  let lastFailureAt = 0;
  let halted: RunHalted | null = null;
  try {
    for (let i = 1; i <= (options.maxIterations ?? 20); i++) {
      await run.llm({ model: 'gpt-4o', provider: 'openai' }, async () => {
        await new Promise((ok) => setTimeout(ok, thinkMs));
        return { output: 'search again', usage: { inputTokens: 1_200, outputTokens: 25, costMicros: 3_250 } };
      });
      print(`  step ${i}: model says "search again" (1,225 tokens, $0.003250)`);
      try {
        await run.tool('web_search', args, async () => {
          toolCalls += 1;
          throw new Error('HTTP 503 Service Unavailable');
        });
      } catch (error) {
        if (error instanceof RunHalted) throw error;
        lastFailureAt = performance.now();
        print(`  call ${toolCalls}: web_search ${JSON.stringify(args)} -> ${(error as Error).message}`);
      }
    }
  } catch (error) {
    if (!(error instanceof RunHalted)) throw error;
    halted = error;
  }
  run.end(halted ? 'error' : 'ok', halted?.message);
  return { runId: run.id, treeId: run.treeId, toolCalls, halted, haltedAfterMs: halted ? performance.now() - lastFailureAt : null };
}
