-- cost_ledger: what every span cost, in the order cost reports read it. One row per span
-- (not a pre-aggregated sum), projected from spans by a materialized view.
-- Why not SummingMergeTree per tenant/day/agent/model/user: spans arrive at least once, and
-- a materialized view fires for every inserted block, including a redelivered span in a new
-- batch (a batch replayed with the same dedup token is dropped before the view fires, a
-- re-read with different boundaries is not). A summing rollup would count that span twice,
-- and no later FINAL could tell. Here a redelivered span lands on its own key
-- (tenant, day, event id) and FINAL collapses it, so a report's totals equal the sum of the
-- spans it covers, always; the tests insert duplicates to prove it.
-- Why not report straight from spans FINAL: spans are ordered by tree and run, so a time range
-- prunes only whole months; here ORDER BY (tenant_id, day, event_id) prunes to the days asked
-- for, reads a handful of narrow columns, and keeps the dedup key. Partitioned by month of
-- the span's start time, the time reports are bucketed by.
-- A later reprice (issue 4, prices) can insert corrected rows with a higher `priced_version`.
CREATE TABLE IF NOT EXISTS cost_ledger
(
    tenant_id       LowCardinality(String),
    day             Date,
    event_id        String,
    start_time      DateTime64(3, 'UTC'),
    agent_id        LowCardinality(String),
    tree_id         String,
    run_id          String,
    kind            LowCardinality(String),
    model           LowCardinality(Nullable(String)),
    provider        LowCardinality(Nullable(String)),
    user_id         Nullable(String),
    session_id      Nullable(String),
    input_tokens    UInt64,
    output_tokens   UInt64,
    cached_tokens   UInt64,
    cost_micros     Nullable(UInt64) COMMENT 'integer micro-USD; NULL = not priced',
    priced_version  UInt32 DEFAULT 0 COMMENT 'ReplacingMergeTree version: a reprice supersedes the row'
)
ENGINE = ReplacingMergeTree(priced_version)
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_ledger_from_spans TO cost_ledger AS
SELECT tenant_id, toDate(start_time) AS day, event_id, start_time, agent_id, tree_id, run_id, kind, model, provider, user_id, session_id,
       input_tokens, output_tokens, cached_tokens, cost_micros, toUInt32(0) AS priced_version
FROM spans;

-- Spans stored before the view existed; re-running collapses on the same keys.
INSERT INTO cost_ledger
SELECT tenant_id, toDate(start_time), event_id, start_time, agent_id, tree_id, run_id, kind, model, provider, user_id, session_id,
       input_tokens, output_tokens, cached_tokens, cost_micros, toUInt32(0)
FROM spans FINAL;
