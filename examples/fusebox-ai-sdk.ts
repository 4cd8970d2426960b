/**
 * Fusebox for the Vercel AI SDK (`ai`), in one call: the model goes through a middleware that
 * guards every generation and records it as an llm_call span (tokens from the SDK's usage);
 * every tool's `execute` becomes a guarded tool_call span, its input hashed canonically (the
 * SDK's per-call options, such as the tool call id, are left out so identical calls hash alike).
 */
import { wrapLanguageModel, type LanguageModel, type ToolSet } from 'ai';
import type { LanguageModelV3, LanguageModelV3Middleware } from '@ai-sdk/provider';
import type { Run } from '../client/index.js';

export function instrument<T extends ToolSet>(run: Run, agent: { model: LanguageModelV3; tools: T }): { model: LanguageModel; tools: T; run: Run } {
  const middleware: LanguageModelV3Middleware = {
    specificationVersion: 'v3',
    wrapGenerate: ({ doGenerate, model }) => run.wrapModel({ model: model.modelId, provider: model.provider }, doGenerate, (result) => ({
      inputTokens: result.usage.inputTokens.total ?? 0,
      outputTokens: result.usage.outputTokens.total ?? 0,
      cachedTokens: result.usage.inputTokens.cacheRead ?? 0,
    }))(),
  };
  const tools = Object.fromEntries(Object.entries(agent.tools).map(([name, tool]) => {
    const execute = tool.execute;
    if (!execute) return [name, tool];
    return [name, { ...tool, execute: (input: unknown, options: unknown) => run.tool(name, input, () => execute(input as never, options as never)) }];
  })) as T;
  return { model: wrapLanguageModel({ model: agent.model, middleware }), tools, run };
}
