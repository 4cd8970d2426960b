-- run_edges: the typed causal edges between runs (spawn, signal_fire, domain_callback,
-- cross_session_bridge), projected from spans by two materialized views:
--   * an explicit edge: a span carrying `edge_kind` (the client's spawn span, a signal...),
--     source = the span's run, target = edge_target_run;
--   * an implied spawn edge: any span with `parent_run_id`, source = the parent, target = the
--     run, for producers that link runs but never send a spawn span (OTLP, HTTP).
-- Both describe the same spawn, so they share a key and collapse into one row; `precedence`
-- (explicit 2, implied 1) is the ReplacingMergeTree version, so the explicit row (which knows
-- its span and time) wins. Spans are delivered at least once, so every view here must be
-- idempotent: a redelivered span re-inserts a row with the same key and the same version,
-- which FINAL (and merges) collapse. No counts are kept, so nothing can be counted twice.
-- ORDER BY (tenant_id, tree_id, source_run_id, ...): the graph walks one tree of one tenant
-- at a time, so a tree's edges are one contiguous range, joined on source_run_id.
-- An edge is filed under the source run's tree (for an implied edge, the child's tree, which
-- is the parent's for a spawn); edges to another tree carry target_tree_id.
-- Plain ReplacingMergeTree with no partitions: edges are small, and a tree's edges must stay
-- one range whatever their time.
CREATE TABLE IF NOT EXISTS run_edges
(
    tenant_id        LowCardinality(String),
    tree_id          String,
    source_run_id    String,
    target_run_id    String,
    kind             LowCardinality(String),
    target_tree_id   Nullable(String),
    event_id         Nullable(String) COMMENT 'the span that recorded the edge; NULL when implied by parent_run_id',
    time             Nullable(DateTime64(3, 'UTC')),
    precedence       UInt8 COMMENT '2 explicit edge span, 1 implied by parent_run_id'
)
ENGINE = ReplacingMergeTree(precedence)
ORDER BY (tenant_id, tree_id, source_run_id, target_run_id, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS run_edges_from_edge_spans TO run_edges AS
SELECT tenant_id, tree_id, run_id AS source_run_id, assumeNotNull(edge_target_run) AS target_run_id, assumeNotNull(edge_kind) AS kind,
       edge_target_tree AS target_tree_id, event_id, end_time AS time, toUInt8(2) AS precedence
FROM spans
WHERE edge_kind IS NOT NULL AND edge_target_run IS NOT NULL;

-- Every span of a child carries parent_run_id; GROUP BY keeps one edge per block, merges the rest.
CREATE MATERIALIZED VIEW IF NOT EXISTS run_edges_from_parent_links TO run_edges AS
SELECT tenant_id, tree_id, assumeNotNull(parent_run_id) AS source_run_id, run_id AS target_run_id, 'spawn' AS kind,
       toNullable(tree_id) AS target_tree_id, CAST(NULL AS Nullable(String)) AS event_id, CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS time, toUInt8(1) AS precedence
FROM spans
WHERE parent_run_id IS NOT NULL
GROUP BY tenant_id, tree_id, parent_run_id, run_id;

-- Spans stored before these views existed. Re-running is harmless: the rows collapse.
INSERT INTO run_edges
SELECT tenant_id, tree_id, run_id, assumeNotNull(edge_target_run), assumeNotNull(edge_kind), edge_target_tree, event_id, end_time, toUInt8(2)
FROM spans FINAL
WHERE edge_kind IS NOT NULL AND edge_target_run IS NOT NULL;

INSERT INTO run_edges
SELECT tenant_id, tree_id, assumeNotNull(parent_run_id), run_id, 'spawn', toNullable(tree_id), NULL, NULL, toUInt8(1)
FROM spans FINAL
WHERE parent_run_id IS NOT NULL
GROUP BY tenant_id, tree_id, parent_run_id, run_id;
