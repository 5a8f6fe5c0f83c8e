-- Spans: one row per span. ReplacingMergeTree on the sorting key dedupes re-sent spans
-- (the newest ingested_at wins); queries read with FINAL or aggregate by span_id.
CREATE TABLE IF NOT EXISTS spans
(
    project_id        LowCardinality(String),
    trace_id          String,
    span_id           String,
    parent_span_id    String DEFAULT '',
    name              String,
    kind              LowCardinality(String),
    start_time        DateTime64(6, 'UTC'),
    end_time          DateTime64(6, 'UTC'),
    duration_us       Int64 MATERIALIZED toInt64(toUnixTimestamp64Micro(end_time) - toUnixTimestamp64Micro(start_time)),
    status            LowCardinality(String) DEFAULT 'ok',
    status_message    String DEFAULT '',
    input             String DEFAULT '',
    output            String DEFAULT '',
    model             LowCardinality(String) DEFAULT '',
    provider          LowCardinality(String) DEFAULT '',
    prompt_tokens     UInt32 DEFAULT 0,
    completion_tokens UInt32 DEFAULT 0,
    total_tokens      UInt32 DEFAULT 0,
    cost              Float64 DEFAULT 0,
    documents         String DEFAULT '',
    tool_name         String DEFAULT '',
    tool_arguments    String DEFAULT '',
    session_id        String DEFAULT '',
    user_id           String DEFAULT '',
    release           LowCardinality(String) DEFAULT '',
    tags              Array(LowCardinality(String)) DEFAULT [],
    metadata          Map(String, String) DEFAULT map(),
    ingested_at       DateTime64(6, 'UTC') DEFAULT now64(6),
    INDEX idx_trace trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(start_time)
ORDER BY (project_id, toDate(start_time), trace_id, span_id)
SETTINGS index_granularity = 8192
