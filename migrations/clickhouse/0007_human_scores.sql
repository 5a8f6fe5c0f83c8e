-- Scores sent through the API (POST /api/v1/scores: people, apps, the SDK) beside the judge's.
-- `score_id` (a hash of the score's target, name and idempotency key; '' on judge rows) joins
-- the sorting key, so every API score is its own row while a re-sent one (same key) replaces
-- it, and judge rows keep their one-row-per-(span, name, evaluator version) identity.
-- ClickHouse lets a sorting key grow only by a column added in the same ALTER, without a
-- default expression (String's implicit default is '').
ALTER TABLE scores
    ADD COLUMN IF NOT EXISTS score_id String,
    MODIFY ORDER BY (project_id, toDate(timestamp), name, evaluator_version, trace_id, span_id, score_id);

-- A categorical score keeps its category in `string_value` (value 0); a boolean one is 1 or 0
-- with 'true'/'false'. A delete writes a newer copy of the row with `deleted` = 1 and who
-- deleted it: reads skip it, and the copy (created_at = when) is the audit record.
ALTER TABLE scores
    ADD COLUMN IF NOT EXISTS value_type LowCardinality(String) DEFAULT 'numeric',
    ADD COLUMN IF NOT EXISTS string_value String DEFAULT '',
    ADD COLUMN IF NOT EXISTS comment String DEFAULT '',
    ADD COLUMN IF NOT EXISTS author String DEFAULT '',
    ADD COLUMN IF NOT EXISTS idempotency_key String DEFAULT '',
    ADD COLUMN IF NOT EXISTS deleted UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS deleted_by String DEFAULT '';

-- DELETE /api/v1/scores/{id} and the score list's id lookups read few rows by id.
ALTER TABLE scores ADD INDEX IF NOT EXISTS idx_score_id score_id TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE scores MATERIALIZE INDEX idx_score_id;
