-- control_actions: every halt and reset an operator issued through the API: the ControlEvent
-- published to the control topic, plus who issued it. The API writes the row after the
-- event is on the log. It is the other half of "open breakers": a breaker is open when the
-- newest of its trips (breaker_events) and operator actions (here) opens it.
-- (A later improvement is for the sink to project the control topic itself.)
-- ReplacingMergeTree ORDER BY (tenant_id, event_id), like breaker_events: an action retried
-- with the same event id collapses.
CREATE TABLE IF NOT EXISTS control_actions
(
    tenant_id    LowCardinality(String),
    event_id     String,
    scope        LowCardinality(String),
    target       String,
    tree_id      Nullable(String),
    action       LowCardinality(String),
    message      String,
    key_id       String COMMENT 'the API key that issued it',
    time         DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (tenant_id, event_id);
