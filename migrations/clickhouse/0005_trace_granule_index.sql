-- Per-granule bloom filters on trace_id, for reads of a few traces over days of rows: the trace
-- list's candidate traces and its page's summaries and scores. toDate(start_time) (scores:
-- toDate(timestamp), name, evaluator_version) precedes trace_id in the sorting keys, so the
-- primary key narrows such a read to some granules per day only; idx_trace (one filter per four
-- granules, 1% false positives per id) keeps nearly every block when a read looks up a hundred
-- ids, while these rule out each granule holding none of them. Skipping by a sorting-key column
-- keeps FINAL exact: every version of a row has the same trace_id.
ALTER TABLE spans ADD INDEX IF NOT EXISTS idx_trace_granule trace_id TYPE bloom_filter(0.0001) GRANULARITY 1;

ALTER TABLE spans MATERIALIZE INDEX idx_trace_granule;

ALTER TABLE scores ADD INDEX IF NOT EXISTS idx_trace_granule trace_id TYPE bloom_filter(0.0001) GRANULARITY 1;

ALTER TABLE scores MATERIALIZE INDEX idx_trace_granule;
