/**
 * Spans made inside ClickHouse with INSERT ... SELECT FROM numbers(): millions of rows in
 * seconds, through the spans table's materialized views like the sink's inserts, without
 * building them in Node first. Every generator is deterministic (ids from the row number), so
 * figures compare across runs.
 */
import type { ClickHouseClient } from '@clickhouse/client';

/** At most this many rows per INSERT: bounded memory in chDB, and merges keep up. */
const CHUNK = 1_000_000;

async function insertChunked(client: ClickHouseClient, rows: number, select: (offset: number, count: number) => string): Promise<void> {
  for (let offset = 0; offset < rows; offset += CHUNK) {
    const count = Math.min(CHUNK, rows - offset);
    await client.command({ query: select(offset, count), clickhouse_settings: { parallel_view_processing: 1 } });
  }
}

export interface SpawnTreeOptions {
  tenantId: string;
  treeId: string;
  runs: number;
  /** Children per run: run i's parent is run floor((i - 1) / fanOut). */
  fanOut: number;
  startMs: number;
}

/**
 * One spawn tree as the client records it: each run has a run_start, a priced model call and a
 * run_end (carrying parent_run_id), and its parent records a spawn span with the typed edge.
 * Runs are `<treeId>-<i>`; the root is `<treeId>-0`.
 */
export async function generateSpawnTree(client: ClickHouseClient, tree: SpawnTreeOptions): Promise<number> {
  const run = (i: string) => `concat({tree:String}, '-', toString(${i}))`;
  const parent = `if(i = 0, NULL, ${run('intDiv(i - 1, {fanOut:UInt32})')})`;
  const common = `{tenant:String} AS tenant_id, concat('worker-', toString(i % 7)) AS agent_id, {tree:String} AS tree_id`;
  const at = (extraMs: number) => `fromUnixTimestamp64Milli(toInt64({startMs:Int64} + i * 10 + ${extraMs}), 'UTC')`;
  const params = { tenant: tree.tenantId, tree: tree.treeId, fanOut: tree.fanOut, startMs: tree.startMs };
  const columns = 'tenant_id, agent_id, tree_id, run_id, parent_run_id, event_id, span_id, kind, name, status, start_time, end_time, model, provider, input_tokens, output_tokens, cost_micros, edge_kind, edge_target_run, edge_target_tree';
  const selects = [
    `SELECT ${common}, ${run('i')}, ${parent}, concat(${run('i')}, '-start'), concat(${run('i')}, '-s0'), 'run_start', 'run', 'ok', ${at(0)}, ${at(0)}, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL`,
    `SELECT ${common}, ${run('i')}, ${parent}, concat(${run('i')}, '-llm'), concat(${run('i')}, '-s1'), 'llm_call', 'plan', 'ok', ${at(1)}, ${at(5)}, 'gpt-4o-mini', 'openai', 900, 40, 3, NULL, NULL, NULL`,
    `SELECT ${common}, ${run('i')}, ${parent}, concat(${run('i')}, '-end'), concat(${run('i')}, '-s2'), 'run_end', 'run', 'ok', ${at(9)}, ${at(9)}, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL`,
    // The parent's spawn span, one per child.
    `SELECT {tenant:String}, concat('worker-', toString(intDiv(i - 1, {fanOut:UInt32}) % 7)), {tree:String}, ${run('intDiv(i - 1, {fanOut:UInt32})')},
            if(intDiv(i - 1, {fanOut:UInt32}) = 0, NULL, ${run('intDiv(intDiv(i - 1, {fanOut:UInt32}) - 1, {fanOut:UInt32})')}),
            concat(${run('i')}, '-spawned'), concat(${run('i')}, '-s3'), 'spawn', 'spawn', 'ok', ${at(0)}, ${at(0)}, NULL, NULL, 0, 0, NULL, 'spawn', ${run('i')}, {tree:String}`,
  ];
  for (const [index, select] of selects.entries()) {
    const from = index === 3 ? `(SELECT number + 1 AS i FROM numbers(${tree.runs - 1}))` : `(SELECT number AS i FROM numbers(${tree.runs}))`;
    await client.command({ query: `INSERT INTO spans (${columns}) ${select} FROM ${from}`, query_params: params, clickhouse_settings: { parallel_view_processing: 1 } });
  }
  return tree.runs * 4 - 1;
}

export interface CostSpansOptions {
  tenantId: string;
  spans: number;
  agents: number;
  /** Spans spread evenly over [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** Runs of this many spans each, trees of 4 runs: the shape the spans table is ordered by. */
  spansPerRun: number;
  /** Row numbers start here (distinct event ids across calls). */
  firstRow?: number;
}

/** The models spans are priced with: every fifth span is a tool call (no model, no cost). */
export const GENERATED_MODELS = [['gpt-4o', 'openai'], ['gpt-4o-mini', 'openai'], ['claude-sonnet-4', 'anthropic'], ['gemini-2.5-pro', 'google']] as const;

/**
 * A tenant's model and tool calls over a period: `agents` agents, four models, integer
 * micro-USD costs and token counts that vary by row, a user and a session per run.
 */
export async function generateCostSpans(client: ClickHouseClient, options: CostSpansOptions): Promise<void> {
  const models = `[${GENERATED_MODELS.map(([m]) => `'${m}'`).join(', ')}]`;
  const providers = `[${GENERATED_MODELS.map(([, p]) => `'${p}'`).join(', ')}]`;
  const first = options.firstRow ?? 0;
  const stepMs = (options.toMs - options.fromMs) / options.spans;
  await insertChunked(client, options.spans, (offset, count) => `
    INSERT INTO spans (tenant_id, agent_id, tree_id, run_id, event_id, span_id, kind, name, status, start_time, end_time,
                       model, provider, input_tokens, output_tokens, cached_tokens, cost_micros, user_id, session_id)
    SELECT '${options.tenantId}', concat('agent-', toString(run % ${options.agents})), concat('tree-', toString(intDiv(run, 4))), concat('run-', toString(run)),
           concat('ev-', toString(n)), concat('sp-', toString(n)), tool ? 'tool_call' : 'llm_call', tool ? 'web_search' : 'chat', n % 97 = 0 ? 'error' : 'ok',
           fromUnixTimestamp64Milli(toInt64(${options.fromMs} + (n - ${first}) * ${stepMs}), 'UTC') AS start,
           start + toIntervalMillisecond(50 + n % 900),
           tool ? NULL : ${models}[1 + n % 4], tool ? NULL : ${providers}[1 + n % 4],
           tool ? 0 : 200 + n % 4000, tool ? 0 : 10 + n % 600, tool ? 0 : n % 300, tool ? NULL : 1 + n % 5000,
           concat('user-', toString(run % 50)), concat('session-', toString(intDiv(run, 3)))
    FROM (SELECT number + ${first + offset} AS n, intDiv(n, ${options.spansPerRun}) AS run, n % 5 = 4 AS tool FROM numbers(${count}))`);
}
