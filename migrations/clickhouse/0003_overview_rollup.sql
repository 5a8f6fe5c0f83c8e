-- The overview's hourly rollup (see store/overview_rollup.py). Rows are recomputed from
-- `spans FINAL` for closed hours, never fed by a materialized view (a re-sent span would count
-- twice): one 'all' row per (project, hour) over every span and one 'llm' row per model over
-- its LLM spans. `source_version` is the newest ingested_at (µs) of the hour's spans that the
-- row was computed from; every row of one recomputation carries the same version.
CREATE TABLE IF NOT EXISTS span_hourly_rollup
(
    project_id        LowCardinality(String),
    hour              DateTime('UTC'),
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
    source_version    Int64
)
ENGINE = ReplacingMergeTree(source_version)
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, scope, model);

-- Which hours changed since they were rolled up: the newest ingested_at per (project, hour),
-- kept by an aggregate projection (max is unchanged by deduplication; merges rebuild it).
ALTER TABLE spans MODIFY SETTING
    deduplicate_merge_projection_mode = 'rebuild',
    lightweight_mutation_projection_mode = 'rebuild';

ALTER TABLE spans ADD PROJECTION IF NOT EXISTS hour_ingested
(
    SELECT project_id, toStartOfHour(start_time), max(ingested_at)
    GROUP BY project_id, toStartOfHour(start_time)
);

ALTER TABLE spans MATERIALIZE PROJECTION hour_ingested;
