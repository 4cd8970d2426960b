-- access_log: every authenticated API request that touches a tenant's data (reads of runs,
-- spans, graphs, breakers and reports; halts, resets, key changes): who, which tenant, which
-- route and resource, when, the answer's status, and whether it was flagged (a request for
-- another tenant's run, tree, agent or report, answered 404 like a missing one).
-- Written by the API itself, once per request, so nothing is replayed: a plain MergeTree.
-- The time here is the wall clock of the request, the one place Fusebox reads it for data.
-- ORDER BY (tenant_id, time): "who read what in my tenant, lately" is a range; flagged rows
-- are few and found with a filter. Partitioned by month so old audit data can be moved or
-- dropped whole by retention policy.
CREATE TABLE IF NOT EXISTS access_log
(
    tenant_id      LowCardinality(String),
    time           DateTime64(3, 'UTC'),
    request_id     String,
    key_id         String,
    role           LowCardinality(String),
    method         LowCardinality(String),
    route          LowCardinality(String) COMMENT 'the route pattern, e.g. /v1/runs/:runId',
    resource_type  LowCardinality(String),
    resource_id    String,
    status_code    UInt16,
    flagged        Bool,
    flag_reason    LowCardinality(String) COMMENT 'cross_tenant, or empty'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (tenant_id, time, request_id);
