/**
 * The scenarios, in the order a full run takes them. Metadata only: the orchestrator renders
 * BENCHMARKS.md from it without loading any scenario's code, which runs in its own process.
 */
export interface ScenarioInfo {
  name: string;
  title: string;
  /** What is measured and how, for BENCHMARKS.md. */
  about: string;
  /** Longest a full-mode run may take before it is killed and reported as failed. */
  timeoutMs: number;
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: 'ceiling',
    title: 'Ceiling: raw kafkajs on the same broker',
    about:
      'Realistic spans, encoded exactly as the client encodes the spans it builds (Avro single-object), are produced with plain kafkajs (acks=all) to fresh 6-partition topics, partitioned with Fusebox\'s murmur2, and the in-order copy is then drained by a plain kafkajs consumer in its own process (eachBatch, default auto-commit after every batch, `minBytes: 1`, `maxWaitTimeInMs: 25` as Fusebox\'s consumers use). Produce is measured three ways: keeping per-key order as Fusebox needs (idempotent, 5,000 messages a request, one in flight: also how the other scenarios preload), kafkajs flat out (1,000 a request, 4 in flight, whose retries may reorder and duplicate), and shaped like the client\'s emitter (500 a request, idempotent, one in flight). Then Fusebox\'s own producer (`log/wire`, what the client, the gateway and every plain send use) against the kafkajs idempotent producer it replaced, on the same spans, at 500 and at 50 messages a request, one request at a time: rate, and the bench process\'s CPU (user + system) per message. Consume rate is from the first batch to the last.',
    timeoutMs: 240_000,
  },
  {
    name: 'processor',
    title: 'Processor: draining a preloaded spans topic',
    about:
      'A 6-partition spans topic is preloaded with realistic trees (about 1 in 1,000 looping with three identical failing tool calls). The same topic is then drained, each by a fresh consumer group in its own process: by plain kafkajs (the ceiling), by plain kafkajs plus Avro decoding, and by `createProcessor` (decode, the breaker engine, then trips, audit records, its state changelog and the offsets published and committed together in Kafka transactions, per partition at most one every 100 ms). Plain kafkajs and the processor drain in pairs, one after the other, each pair on a fresh copy of the topic (3 pairs in full mode, 1 in short): the ratios are those of the median pair and every pair is listed, since the ratio of one pair moves by half on this shared box. Rates run from the first completed batch to the last; `stats()` counts spans and trips. The pure figures fold the same spans in the bench process without Kafka: what decoding and the engine cost on their own. Trips are checked against the control topic: every looping tree must be tripped, and no other.',
    timeoutMs: 480_000,
  },
  {
    name: 'sustained',
    title: 'Sustained end to end: agents, Kafka, processor, sink, ClickHouse',
    about:
      'Simulated agents in 2 processes (8 `createFusebox` clients: 8 agents in 4 tenants, 50 runs in flight each, every run its own tree of 20 model and tool steps, 1 tree in 1,000 a retry loop that goes on until `RunHalted`, given up after 200 steps) emit to the broker; one processor and one sink (into chDB) run in processes of their own, on fresh 6-partition topics. After a warm-up (5 s; 2 s in short mode), the offered rate is stepped up (2,500, 5,000, 10,000, 20,000, 30,000 ... spans/s, 10 s a step; in short mode from 5,000, 3 s a step) until the agents cannot emit 90% of it, the processor or the sink commits less than 90% of what was produced in the step, or the floor of the processor\'s or sink\'s lag over the step\'s last third exceeds two seconds of the rate (the queryable-within-2-s target), then once halfway between the last rate that held and the failed one; the last rate that held is then offered for 60 s (10 s in short mode), once the failed step\'s lag has drained; a window whose lag ends above the bound is measured once more at a fifth less (after its backlog drained; not in short mode), and the notes list both. Rates and lag come from Kafka, read once a second from outside: the spans topic\'s end offsets and the committed offsets of the processor\'s and the sink\'s groups (the sink commits after its ClickHouse insert, so its offsets count what is stored). Time until queryable is measured in the sink\'s process from each span\'s emit time (`endTimeMs`, stamped by the client as it emits) to the insert holding it being acknowledged (every 128th span) and, as a check, to a primary-key SELECT first returning it (a probe every 250 ms, polled every 25 ms). Resident memory of every process from /proc (peak is the kernel\'s VmHWM; the broker JVM found by its port). Trips are the processor\'s, after it caught up, against the looping trees whose 3rd identical call was emitted. Trip latency at the sustained rate: each looping run of the window, from its 3rd identical call to `guard()` first throwing `RunHalted`, polled every millisecond in the agents\' process. `BENCH_SUSTAINED_RATE=N` skips the search and holds N spans/s for the window (the table then says so).',
    timeoutMs: 420_000,
  },
  {
    name: 'scale-out',
    title: 'Scale-out: 1, 2 and 3 processors, and the rebalance pause',
    about:
      'Throughput: for 1, 2 and 3 instances, fresh 6-partition topics are preloaded with the same realistic workload (300,000 spans, 40,000 in short mode; 1 tree in 1,000 looping) and that many `createProcessor` processes start at once in one consumer group. Each counts the spans it handled per 500 ms on the shared wall clock; the steady rate is over the buckets in which every instance was busy, without the first and last (one instance alone at the start and the rebalance as the others join are not counted as scaling); the rate over the whole drain is beside it. Rebalance pause: three processors run on fresh topics while agents in another process emit 5,000 spans/s through their clients; this process reads the group\'s committed offsets of every partition every 50 ms (a processor commits in each batch\'s transaction). One instance is stopped, gracefully (it leaves the group) or by SIGKILL (the group waits out its 10 s session timeout), 3 and 2 times (in short mode one graceful stop, no SIGKILL), and a replacement started each time; the pause is the longest stretch without committed progress, on any partition, overlapping the time from the move until every partition has moved again. The longest stretch in the seconds before a move is the baseline. The control topic must then hold exactly one loop trip per looping tree.',
    timeoutMs: 420_000,
  },
  {
    name: 'trip-latency',
    title: 'Trip latency: from the offending call to RunHalted',
    about:
      'A processor runs in its own process on fresh topics. A looping agent (`createFusebox` on Kafka, in the bench process) starts a run, makes one model call and three identical failing tool calls; the clock starts when the third call fails (its span is emitted in that same tick) and stops when `run.guard()` first throws `RunHalted`, polled every millisecond by a timer. One agent at a time, with a random 20-80 ms pause between samples so trips do not line up with fetch cycles. Measured idle and with background agents in a third process emitting about 10,000 spans/s through their own clients (4 tenants, 25 concurrent runs each, model and tool calls that never loop). The processor sends each trip on the early lane (control-early, no transaction) and in its transaction (control); the client halts on whichever copy comes first.',
    timeoutMs: 300_000,
  },
  {
    name: 'sink',
    title: 'Sink: spans topic into ClickHouse (chDB)',
    about:
      'A 6-partition spans topic is preloaded with realistic spans; `createSink` drains it in its own process into chDB in a fresh temp folder (decode, price, redact, `toSpanRow`; the batches of all partitions handled at once write their rows into one insert\'s Native block with a dedup token naming every slice, two inserts at once when groups fill; then the commits). The drain rate counts every row, from the first handler\'s start to the last batch. The row count in ClickHouse is checked afterwards. For comparison, the bench process inserts the same rows, already built, with `insertSpans` straight into another chDB folder at fixed batch sizes, and with the insert path used before (JSONEachRow inline through @clickhouse/client) in the same process (short mode: 10,000 and 50,000 rows an insert, no JSONEachRow).',
    timeoutMs: 300_000,
  },
  {
    name: 'client',
    title: 'Client: guard(), emit, and the agent\'s event loop',
    about:
      '`createFusebox` on the in-memory log (`log/memory.ts`) unless noted. `guard()` is timed in batches of 10,000 calls with `process.hrtime.bigint()`; p50/p99/max are over the per-batch ns/op. `guard(next tool)` with 100 cached policies of the tenant (the run\'s own scope and cap among 98 others at agent, fleet and tenant level) is timed call by call, since its target is a per-call p99; so is the local pre-check with the policies resolved afresh (a run\'s first guard, or the first after a policy change). `run.record()` (a custom span: whole-span zod parse, Avro encode, buffer) and `run.signal()` (a client-built span, the wrappers\' path: guard, only agent-supplied fields checked, Avro encode, buffer) are timed in batches of 1,000; their amortised cost also counts the emitter\'s batching and sends, up to the last span sent. `run.tool()` adds guard, canonical hashing of arguments and result, and a promise. Event-loop delay (`monitorEventLoopDelay`, 1 ms resolution) is measured while 50 concurrent runs emit model and tool calls at 10,000 spans/s, on the in-memory log and on Kafka (where the client\'s producer, `log/wire`, and its readers run on a thread of its own), against an idle baseline.',
    timeoutMs: 240_000,
  },
  {
    name: 'engine-memory',
    title: 'Engine memory per 10,000 live trees',
    about:
      'The breaker engine alone (no Kafka), as a processor instance holds it: a deterministic workload of 10,000 spawn trees (2,000 in short mode) of 21 spans each (model and tool calls, 1 in 10 looping, 1 in 10 over a tenant budget) is folded through `createEngine` with the tenants\' policies; the heap is measured after a full garbage collection before and after. Also the size of each tree\'s state snapshot, what the processor writes to its changelog.',
    timeoutMs: 120_000,
  },
  {
    name: 'budget',
    title: 'Budget ledger of a tree: read time and liveness',
    about:
      'A chDB store gets a 10,000-run spawn tree (fan-out 10; each run a run_start, a priced model call, a tool call and a run_end: 40,000 spans) among 2,000,000 other spans of the same tenant and another (200,000 in short mode), generated inside ClickHouse with INSERT ... SELECT FROM numbers(); an admin creates a tree_budget policy through the API. Then `GET /v1/trees/:treeId/budget` is called through the API (`app.inject`, a finance key) 50 times (10 in short mode) after one cold request, and the answer checked against the generated cost. Liveness: on fresh 6-partition Kafka topics with `createSink` into another chDB folder in the bench process, one priced span of a new tree is produced, and the clock stops when the budget route first answers with its cost (polled every 2 ms through the API), 40 times (10 in short mode) with random 20-80 ms pauses.',
    timeoutMs: 240_000,
  },
  {
    name: 'gateway',
    title: 'Gateway: spans/s over HTTP',
    about:
      'The gateway (`buildGateway`) on fresh 6-partition topics and a fresh chDB (for the API key), listening on 127.0.0.1; realistic spans as JSON batches of 500 (`POST /v1/spans`, tenant from the key) are posted over 4 keep-alive connections by a load generator in the same process. Each request: key lookup, rate limit, zod validation of every item, Avro encoding, produce with acks=all, then the answer. The rate is accepted spans from the first post to the last answer.',
    timeoutMs: 240_000,
  },
  {
    name: 'graph',
    title: 'Causal graph of a 10,000-run tree',
    about:
      'A chDB store gets a 10,000-run spawn tree (fan-out 10, depth 4; each run a run_start, a priced model call and a run_end, its parent a spawn span with the typed edge: 39,999 spans) among 2,000,000 other spans of the same tenant and another (200,000 in short mode), all generated inside ClickHouse with INSERT ... SELECT FROM numbers() through the spans table\'s materialized views. Then `GET /v1/trees/:treeId/graph` is called through the API (`app.inject`, an sre key: auth, ownership check, access-log row, the reads, JSON) 30 times (10 in short mode) after one cold request, and `causalGraph` alone as often, in the bench\'s own process (default V8 flags); then (not in short mode), the bench having closed the chDB folder, as often by the API as deployed: a process of its own started with the services\' V8 flags (`services/node-flags.ts`, what the Docker image sets for every container), after three warm-up requests. The answer is checked whole: every run a node with a depth, every spawn an edge.',
    timeoutMs: 300_000,
  },
  {
    name: 'cost-report',
    title: 'Cost report over 10 million spans',
    about:
      'A chDB store gets 10,000,000 spans of one tenant spread over October 2026 (20 agents, four models and tool calls, runs of 10 spans; 1,000,000 in short mode) and 10% as many of another tenant around it, generated inside ClickHouse with INSERT ... SELECT FROM numbers() (a million a statement) through the spans table\'s materialized views into cost_ledger. The month\'s report grouped by agent and model (`costReport`, what the API and CLI call) is timed first with nothing rolled up (every day from `cost_ledger FINAL`: the path before the daily rollup), then after `refreshCostDaily` (whole days from `cost_daily`), and for noon to noon (two half days from the ledger). Totals are checked against `spans FINAL` and the ledger-only report.',
    timeoutMs: 900_000,
  },
];

export function scenarioInfo(name: string): ScenarioInfo | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
