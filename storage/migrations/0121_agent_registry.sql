-- agent_registry: the agent registry as an append-only history. Every change (registered,
-- updated, lifecycle move, suspended, resumed) is a new row holding the agent's whole state
-- after it, with what changed, who changed it and when; an agent's state is its newest row.
-- Nothing is updated in place, so the history endpoint is a plain range read.
-- ReplacingMergeTree ORDER BY (tenant_id, agent_id, version): a retried insert of the same
-- version collapses; versions are assigned one at a time per agent by the API.
-- allowed_tools with tools_restricted = false means "any tool" (ClickHouse has no nullable arrays).
CREATE TABLE IF NOT EXISTS agent_registry
(
    tenant_id             LowCardinality(String),
    agent_id              String,
    version               UInt32,
    owner                 String,
    lifecycle             LowCardinality(String),
    suspended             Bool,
    tools_restricted      Bool,
    allowed_tools         Array(String),
    change                LowCardinality(String),
    detail                String,
    changed_by            String COMMENT 'the API key that made the change',
    changed_at            DateTime64(3, 'UTC'),
    control_event_id      Nullable(String) COMMENT 'the kill or reset a suspend or resume published',
    scope_policy_version  Nullable(UInt32) COMMENT 'the version of the agent scope policy this change published',
    INDEX agent_id_bloom agent_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, agent_id, version);
