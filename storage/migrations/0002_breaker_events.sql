-- The audit trail: one row per breaker trip, with what tripped, the threshold and the
-- observed value, the policy that decided, and what the run had done and spent. Trip ids are
-- deterministic, so a re-published trip collapses here too.
CREATE TABLE IF NOT EXISTS breaker_events
(
    tenant_id        LowCardinality(String),
    event_id         String,
    agent_id         LowCardinality(String),
    run_id           String,
    tree_id          String,
    scope            LowCardinality(String),
    target           String,
    action           LowCardinality(String),
    detector         LowCardinality(String),
    threshold        UInt64,
    observed         UInt64,
    window_ms        Nullable(UInt64),
    policy_id        String,
    policy_version   UInt64,
    last_action      String,
    trigger_event_id String,
    steps_elapsed    UInt64,
    run_cost_micros  UInt64,
    tree_cost_micros UInt64,
    message          String,
    time             DateTime64(3, 'UTC'),
    ingested_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (tenant_id, event_id)
SETTINGS non_replicated_deduplication_window = 1000
