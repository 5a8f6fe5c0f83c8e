-- Eval run items: one row per (run, dataset item), written by `haloscope eval run` (through
-- POST /api/v1/eval-runs/{run_id}/items) and by runs started from the dashboard. The item's
-- input, expected output and metadata are JSON text; per metric (evaluator or custom scorer)
-- the parallel arrays hold its name, score (NULL when it could not score), label, reason,
-- latency and error. ReplacingMergeTree on (project, run, item): an upload sent again
-- replaces its rows, never adds (reads use FINAL).
--
-- Sorting key: every item of a run is one contiguous range (the run's page, its export and
-- the compare page read whole runs); `idx_item` (one bloom filter per granule) finds an item
-- across the runs of a project without reading them all. Partitioned by the month the run was
-- recorded (`run_created_at`, the same for every upload of a run, so its rows replace each
-- other within one partition), so old runs' items can be dropped by month.
CREATE TABLE IF NOT EXISTS eval_items
(
    project_id        LowCardinality(String),
    run_id            String,
    item_id           String,
    dataset           LowCardinality(String) DEFAULT '',
    dataset_version   LowCardinality(String) DEFAULT '',
    run_created_at    DateTime64(6, 'UTC'),
    position          UInt32 DEFAULT 0,
    input             String DEFAULT '',
    expected_output   String DEFAULT '',
    output            String DEFAULT '',
    contexts          Array(String) DEFAULT [],
    tags              Array(LowCardinality(String)) DEFAULT [],
    metadata          String DEFAULT '',
    error             String DEFAULT '',
    cached            UInt8 DEFAULT 0,
    latency_ms        Float64 DEFAULT 0,
    metric_names      Array(LowCardinality(String)) DEFAULT [],
    metric_scores     Array(Nullable(Float64)) DEFAULT [],
    metric_labels     Array(String) DEFAULT [],
    metric_reasons    Array(String) DEFAULT [],
    metric_latency_ms Array(Float64) DEFAULT [],
    metric_errors     Array(String) DEFAULT [],
    written_at        DateTime64(6, 'UTC') DEFAULT now64(6),
    INDEX idx_item item_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(run_created_at)
ORDER BY (project_id, run_id, item_id)
SETTINGS index_granularity = 8192
