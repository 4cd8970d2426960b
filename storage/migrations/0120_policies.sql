-- policies: every version of every policy, the queryable copy of the compacted policies topic.
-- The topic is the source of truth (processors, stages and the sink read it); this table is
-- what the API lists and reads, with history. One row per (policy, version): a policy's state is
-- its newest row, its history all of them. Written by the API right after it published a version
-- (so the API reads its own writes), and by the API's policy feed for every version anyone
-- published (the same version twice collapses: ReplacingMergeTree on the version's key).
-- ORDER BY (tenant_id, policy_id, version): a tenant's policies are one key range; a policy id
-- is globally unique (the topic is keyed by it), so the cross-tenant check is by id (bloom filter).
CREATE TABLE IF NOT EXISTS policies
(
    tenant_id          LowCardinality(String),
    policy_id          String,
    version            UInt32,
    detector           LowCardinality(String),
    selector_agent_id  Nullable(String),
    selector_tags      Array(String),
    selector_run_id    Nullable(String),
    params             Map(String, String),
    disposition        LowCardinality(String),
    enabled            Bool,
    changed_by         String,
    changed_at         DateTime64(3, 'UTC'),
    INDEX policy_id_bloom policy_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, policy_id, version);
