-- Retention: every span and score carries the days it is kept (0 keeps it forever). The column
-- default follows HALOSCOPE_RETENTION_DAYS (`haloscope migrate` keeps it in step); ingest may
-- set a per-project value. TTL merges delete rows whose time plus their retention has passed.
-- The TTL is not materialized here: that would write the placeholder default 0 into rows
-- stored before this migration, which instead take the configured default at their next merge.
ALTER TABLE spans ADD COLUMN IF NOT EXISTS retention_days UInt16 DEFAULT 0;
ALTER TABLE spans MODIFY TTL start_time + toIntervalDay(retention_days) WHERE retention_days > 0
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE scores ADD COLUMN IF NOT EXISTS retention_days UInt16 DEFAULT 0;
ALTER TABLE scores MODIFY TTL timestamp + toIntervalDay(retention_days) WHERE retention_days > 0
    SETTINGS materialize_ttl_after_modify = 0;
