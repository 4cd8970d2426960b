-- model_prices: every price version Fusebox prices by. The shipped list (tenant_id = '', from
-- storage/prices/prices.csv, synced at every start by storage/tables/model-prices.ts) and the
-- tenants' overrides and custom endpoints (written by the API after it publishes them to the
-- prices topic, which is what the processor and the sink follow). Versioned by effective_from:
-- a price applies from then until the next version of the same tenant/provider/model.
-- ReplacingMergeTree(changed_at, deleted) ORDER BY (tenant_id, provider, model, effective_from):
-- one row per version after FINAL, the newest change of it winning; a removed version is a
-- row with deleted = 1, which FINAL leaves out. Tiny (hundreds of rows): read whole per tenant.
CREATE TABLE IF NOT EXISTS model_prices
(
    tenant_id                    LowCardinality(String) COMMENT 'empty for the shipped list, else the tenant the override belongs to',
    provider                     LowCardinality(String),
    model                        LowCardinality(String),
    effective_from               DateTime64(3, 'UTC'),
    input_micros_per_mtok        UInt64 COMMENT 'integer micro-USD per million uncached input tokens',
    output_micros_per_mtok       UInt64,
    cached_input_micros_per_mtok UInt64,
    source                       String COMMENT 'where the price comes from (shipped) or the note of an override',
    changed_by                   String COMMENT 'shipped, or the API key id that set the override',
    changed_at                   DateTime64(3, 'UTC') COMMENT 'version: the newest change of a row wins',
    deleted                      UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(changed_at, deleted)
ORDER BY (tenant_id, provider, model, effective_from);
