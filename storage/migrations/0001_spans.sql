-- Every span, once. Kafka is the source of truth; this is a projection rebuilt by replay.
-- ReplacingMergeTree keyed by event id (within tenant and tree) collapses redelivered events;
-- readers use FINAL. Insert dedup tokens (topic/partition/offsets) drop a replayed batch at
-- once, which needs the non-replicated deduplication window on a plain MergeTree.
CREATE TABLE IF NOT EXISTS spans
(
    tenant_id        LowCardinality(String),
    agent_id         LowCardinality(String),
    tree_id          String,
    run_id           String,
    parent_run_id    Nullable(String),
    event_id         String,
    span_id          String,
    parent_span_id   Nullable(String),
    kind             LowCardinality(String),
    name             String,
    status           LowCardinality(String),
    error            Nullable(String),
    start_time       DateTime64(3, 'UTC'),
    end_time         DateTime64(3, 'UTC'),
    model            LowCardinality(Nullable(String)),
    provider         LowCardinality(Nullable(String)),
    input_tokens     UInt64,
    output_tokens    UInt64,
    cached_tokens    UInt64,
    cost_micros      Nullable(UInt64) COMMENT 'integer micro-USD; NULL = not priced yet',
    args_hash        Nullable(String),
    args             Nullable(String),
    output_hash      Nullable(String),
    output           Nullable(String),
    user_id          Nullable(String),
    session_id       Nullable(String),
    edge_kind        LowCardinality(Nullable(String)),
    edge_target_run  Nullable(String),
    edge_target_tree Nullable(String),
    attributes       Map(String, String),
    source_partition UInt32,
    source_offset    UInt64,
    ingested_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (tenant_id, tree_id, run_id, event_id)
SETTINGS non_replicated_deduplication_window = 1000
