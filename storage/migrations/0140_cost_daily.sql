-- cost_daily: exact daily totals per tenant, agent, model and provider, so a month's cost report
-- reads a few thousand rows instead of millions of ledger rows with FINAL.
--
-- Why not a SummingMergeTree fed by a materialized view: spans arrive at least once, and a
-- redelivered span in a new batch would be summed twice (see 0102). Here the rollup of a day is
-- computed from `cost_ledger FINAL` (one row per span), so it is exact when computed; what
-- remains is knowing whether it still is. `cost_ledger_writes` counts every row ever written to
-- the ledger per day (a materialized view on cost_ledger, so the sink's rows, redelivered ones
-- and reprices alike). A day's rollup remembers that count; while the count is unchanged, no
-- ledger row of that day was written since, and the rollup is exact. A report uses the rollup
-- only for such days wholly inside its range and reads the ledger for the rest (partial first
-- and last days, days written since): exact either way, fast for settled days.
-- The count only ever grows (a redelivered span counts again, which only marks the day as
-- changed), so a stale rollup is never taken for current. Re-running this file re-counts the
-- backfill: the counts grow, every day is refreshed once more, nothing is wrong.
-- Deleting ledger rows (TRUNCATE in a test) must also clear cost_daily_days.
CREATE TABLE IF NOT EXISTS cost_ledger_writes
(
    day   Date,
    rows  UInt64
)
ENGINE = SummingMergeTree
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_ledger_writes_from_ledger TO cost_ledger_writes AS
SELECT day, count() AS rows
FROM cost_ledger
GROUP BY day;

-- One row per (tenant, day, agent, model, provider) and refresh. `refresh` names the computation
-- the row belongs to; readers take only the rows of the refresh cost_daily_days names for the
-- day, so a refresh in progress or superseded rows never mix in (old ones are deleted after).
-- ORDER BY tenant first (isolation, pruning), then day: a tenant's month is one range.
CREATE TABLE IF NOT EXISTS cost_daily
(
    tenant_id       LowCardinality(String),
    day             Date,
    refresh         UInt64,
    agent_id        LowCardinality(String),
    model           LowCardinality(Nullable(String)),
    provider        LowCardinality(Nullable(String)),
    spans           UInt64,
    steps           UInt64,
    cost_micros     UInt64 COMMENT 'integer micro-USD of the priced spans',
    unpriced_spans  UInt64,
    input_tokens    UInt64,
    output_tokens   UInt64,
    cached_tokens   UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, refresh, agent_id, model, provider)
SETTINGS allow_nullable_key = 1;

-- Which refresh of a day is complete, and the ledger write count it was computed at. Written
-- after the day's rows, so a refresh named here has all its rows in cost_daily.
CREATE TABLE IF NOT EXISTS cost_daily_days
(
    day            Date,
    refresh        UInt64,
    ledger_writes  UInt64
)
ENGINE = ReplacingMergeTree(refresh)
ORDER BY day;

-- Ledger rows written before the view existed.
INSERT INTO cost_ledger_writes
SELECT day, count() FROM cost_ledger GROUP BY day;
