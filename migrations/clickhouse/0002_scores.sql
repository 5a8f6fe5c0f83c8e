-- Scores keyed to a trace/span. One row per (span, score name, evaluator version): a re-run of
-- the same evaluator version replaces, never double-counts. `timestamp` is the scored span's
-- start time so scores partition and sort next to their spans.
CREATE TABLE IF NOT EXISTS scores
(
    project_id        LowCardinality(String),
    trace_id          String,
    span_id           String DEFAULT '',
    timestamp         DateTime64(6, 'UTC'),
    name              LowCardinality(String),
    evaluator_version LowCardinality(String) DEFAULT '',
    value             Float64,
    label             LowCardinality(String) DEFAULT '',
    reason            String DEFAULT '',
    evidence          String DEFAULT '',
    source            LowCardinality(String) DEFAULT 'api',
    sampling_run_id   String DEFAULT '',
    created_at        DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, toDate(timestamp), name, evaluator_version, trace_id, span_id)
