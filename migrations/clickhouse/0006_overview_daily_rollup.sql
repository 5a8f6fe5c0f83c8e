-- The overview's daily rollup (see store/overview_rollup.py): per closed (project, day) one
-- 'all' row and one 'llm' row per model, merged from that day's current hourly rollup rows, so a
-- 30-day range merges about 30 rows instead of 720. `hours_digest` fingerprints the
-- (hour, source_version) pairs the row was merged from: a day whose hourly versions changed
-- (a late or re-sent span in any of its hours) no longer matches and is merged again.
-- `built_at` (µs) orders recomputations; every row of one recomputation carries the same value.
CREATE TABLE IF NOT EXISTS span_daily_rollup
(
    project_id        LowCardinality(String),
    day               Date,
    scope             LowCardinality(String),
    model             LowCardinality(String),
    span_count        UInt64,
    error_count       UInt64,
    prompt_tokens     UInt64,
    completion_tokens UInt64,
    total_tokens      UInt64,
    cost              Float64,
    latency_sketch    AggregateFunction(quantilesDD(0.01, 0.5, 0.95, 0.99), Int64),
    traces_sketch     AggregateFunction(uniqHLL12, String),
    hours_digest      UInt64,
    built_at          Int64
)
ENGINE = ReplacingMergeTree(built_at)
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, day, scope, model);
