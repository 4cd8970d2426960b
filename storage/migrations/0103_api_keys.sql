-- api_keys: who may call the query API, for which tenant, in which role. Only the SHA-256 of
-- a key is stored (keys are 256-bit random, so a plain hash is enough: nothing to brute
-- force, unlike a password); the key itself is shown once, when created.
-- ReplacingMergeTree(version) ORDER BY key_id: a key is looked up by its public id (the
-- `fbx_<key_id>_` prefix of the key) on every request, and revoking writes a newer version of
-- the same row, read with FINAL. Few rows: listing a tenant's keys may scan them all.
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id      String,
    tenant_id   LowCardinality(String),
    role        LowCardinality(String),
    name        String,
    key_sha256  FixedString(64) COMMENT 'hex SHA-256 of the whole key',
    created_at  DateTime64(3, 'UTC'),
    created_by  String COMMENT 'key id of the admin who created it, or cli',
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    version     UInt64 COMMENT 'milliseconds of the change; the newest row wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key_id;
