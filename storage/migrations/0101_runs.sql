-- runs: one row per run after merges, for listing and filtering runs (agent, status, time,
-- tripped) without scanning spans. Fed by two materialized views, from spans and from
-- breaker_events.
-- Spans arrive at least once and a materialized view sees every inserted block, including a
-- redelivered one, so only idempotent aggregates are kept here: any, min, max, argMax and
-- uniqExact over event ids (adding the same span twice changes none of them). Sums of cost and
-- tokens are NOT idempotent, so they are not stored: the API computes them exactly from
-- `spans FINAL` for the runs it returns (a page, or one tree), a primary-key range read.
-- AggregatingMergeTree ORDER BY (tenant_id, tree_id, run_id): tenant first for isolation,
-- then tree so the runs of one tree are contiguous (graph, tree halt); a run's tree never
-- changes, so the key groups exactly by run. Reads always GROUP BY the key and merge the
-- states, so partially merged parts never show. The bloom filter serves lookups of one run
-- by id (run detail) and the cross-tenant probe, which know the run id but not its tree.
CREATE TABLE IF NOT EXISTS runs
(
    tenant_id      LowCardinality(String),
    tree_id        String,
    run_id         String,
    agent_id       SimpleAggregateFunction(any, LowCardinality(String)),
    parent_run_id  SimpleAggregateFunction(any, Nullable(String)),
    first_time     SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    last_time      SimpleAggregateFunction(max, Nullable(DateTime64(3, 'UTC'))),
    end_status     AggregateFunction(argMax, String, DateTime64(3, 'UTC')) COMMENT 'status of the run_end span; empty while the run has not ended',
    span_ids       AggregateFunction(uniqExact, String),
    step_ids       AggregateFunction(uniqExact, String) COMMENT 'spans other than run_start/run_end, as the engine counts steps',
    error_ids      AggregateFunction(uniqExact, String),
    trip_ids       AggregateFunction(uniqExact, String) COMMENT 'breaker_events whose run_id is this run',
    INDEX run_id_bloom run_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, tree_id, run_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS runs_from_spans TO runs AS
SELECT tenant_id, tree_id, run_id,
       any(agent_id) AS agent_id,
       any(parent_run_id) AS parent_run_id,
       min(toNullable(start_time)) AS first_time,
       max(toNullable(end_time)) AS last_time,
       argMaxStateIf(toString(status), end_time, kind = 'run_end') AS end_status,
       uniqExactState(event_id) AS span_ids,
       uniqExactStateIf(event_id, kind NOT IN ('run_start', 'run_end')) AS step_ids,
       uniqExactStateIf(event_id, status = 'error') AS error_ids,
       uniqExactStateIf('', 0) AS trip_ids
FROM spans
GROUP BY tenant_id, tree_id, run_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS runs_from_breaker_events TO runs AS
SELECT tenant_id, tree_id, run_id,
       any(agent_id) AS agent_id,
       CAST(NULL AS Nullable(String)) AS parent_run_id,
       CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS first_time,
       CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS last_time,
       argMaxStateIf('', time, 0) AS end_status,
       uniqExactStateIf(event_id, 0) AS span_ids,
       uniqExactStateIf(event_id, 0) AS step_ids,
       uniqExactStateIf(event_id, 0) AS error_ids,
       uniqExactState(event_id) AS trip_ids
FROM breaker_events
GROUP BY tenant_id, tree_id, run_id;

-- Rows stored before these views existed; idempotent aggregates make a re-run harmless.
INSERT INTO runs
SELECT tenant_id, tree_id, run_id, any(agent_id), any(parent_run_id), min(toNullable(start_time)), max(toNullable(end_time)),
       argMaxStateIf(toString(status), end_time, kind = 'run_end'),
       uniqExactState(event_id), uniqExactStateIf(event_id, kind NOT IN ('run_start', 'run_end')), uniqExactStateIf(event_id, status = 'error'),
       uniqExactStateIf('', 0)
FROM spans FINAL
GROUP BY tenant_id, tree_id, run_id;

INSERT INTO runs
SELECT tenant_id, tree_id, run_id, any(agent_id), NULL, NULL, NULL,
       argMaxStateIf('', time, 0),
       uniqExactStateIf(event_id, 0), uniqExactStateIf(event_id, 0), uniqExactStateIf(event_id, 0),
       uniqExactState(event_id)
FROM breaker_events FINAL
GROUP BY tenant_id, tree_id, run_id;
