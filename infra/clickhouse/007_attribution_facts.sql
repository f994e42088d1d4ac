-- attributed_facts and funnel_counts: attribution and the funnel rollup computed once per
-- change, not at every query. The queries read them as plain scans; the refresh job
-- (pipeline/analytics/refresh.py, run by the worker that owns the store) keeps them current.
--
-- Why a job, not materialized views: attribution pairs rows of different tables (a receipt
-- with a reply, a delivery with a later order) that different sink batches, or two sink
-- workers at the same time, may insert; a view sees only its own block and could miss the
-- other row. The job instead re-attributes whole customers from committed rows:
-- - attribution_dirty (filled by views on every raw insert) says which customers (or wamids)
--   changed and when (changed_ms = ClickHouse's clock at the insert);
-- - a run takes the customers changed since the previous run, plus those changed in a window
--   that has just become `settle_ms` old (an insert that committed after a run read the table
--   is picked up when its window settles), writes all their messages' facts with a new
--   version, then recounts the funnel groups those messages belong to;
-- - every write is a ReplacingMergeTree row versioned by the time just before its read, so a
--   run repeated after a crash, or two runs at once, leave the facts of the latest read:
--   whichever read started last saw every row committed before it.
-- Duplicates, late receipts and read-without-delivered are resolved as before (message_facts
-- merges them per wamid; orders count once per order_id): the job reads the same inputs the
-- 006 view read, for fewer customers.

-- Which messages each customer has: lets the job read one customer's facts from message_facts
-- (ordered by wamid) through its primary index.
CREATE TABLE IF NOT EXISTS customer_messages
(
    customer String,
    wamid String
)
ENGINE = ReplacingMergeTree
ORDER BY (customer, wamid);

CREATE MATERIALIZED VIEW IF NOT EXISTS customer_messages_mv TO customer_messages AS
SELECT customer, wamid_key AS wamid
FROM outbound_messages
WHERE outcome = 'accepted' AND wamid_key != '';

INSERT INTO customer_messages
SELECT DISTINCT customer, wamid_key
FROM outbound_messages
WHERE outcome = 'accepted' AND wamid_key != '';

-- What changed, and when. Receipts name only the wamid (the job finds its customer in
-- message_facts); the other events name the customer. Rows expire after 7 days: a job that
-- has not run for 6 days rebuilds everything instead of trusting this table.
CREATE TABLE IF NOT EXISTS attribution_dirty
(
    changed_ms Int64,
    customer String,
    wamid String
)
ENGINE = MergeTree
ORDER BY changed_ms
TTL toDateTime(intDiv(changed_ms, 1000)) + INTERVAL 7 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS attribution_dirty_sent_mv TO attribution_dirty AS
SELECT toUnixTimestamp64Milli(now64(3)) AS changed_ms, customer, '' AS wamid
FROM outbound_messages
WHERE outcome = 'accepted' AND wamid_key != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS attribution_dirty_status_mv TO attribution_dirty AS
SELECT toUnixTimestamp64Milli(now64(3)) AS changed_ms, '' AS customer, wamid
FROM message_status;

CREATE MATERIALIZED VIEW IF NOT EXISTS attribution_dirty_inbound_mv TO attribution_dirty AS
SELECT toUnixTimestamp64Milli(now64(3)) AS changed_ms, customer, '' AS wamid
FROM inbound_messages;

CREATE MATERIALIZED VIEW IF NOT EXISTS attribution_dirty_purchases_mv TO attribution_dirty AS
SELECT toUnixTimestamp64Milli(now64(3)) AS changed_ms, customer, '' AS wamid
FROM purchases;

-- The customers of one run (run_id = its start, Unix µs), read back by its INSERT ... SELECTs.
CREATE TABLE IF NOT EXISTS attribution_batch
(
    run_id UInt64,
    customer String
)
ENGINE = MergeTree
ORDER BY (run_id, customer)
TTL toDateTime(intDiv(run_id, 1000000)) + INTERVAL 1 DAY;

-- One row per finished run: the next run starts from the latest run_id. A run that failed
-- half-way is not recorded, so the next one repeats its work.
CREATE TABLE IF NOT EXISTS attribution_refreshes
(
    run_id UInt64,
    full_rebuild Bool,
    customers UInt64,
    facts UInt64,
    groups UInt64,
    elapsed_ms UInt64
)
ENGINE = MergeTree
ORDER BY run_id;

-- One row per accepted message (once merged): the columns of attributed_messages, plus
-- is_failed / marked_free and the send day. The key starts with the funnel group, so the job
-- recounts a group through the primary index; it never changes for a message (send-result
-- facts), so each message keeps one row once merged. version: Unix µs just before the read
-- that computed the row.
CREATE TABLE IF NOT EXISTS attributed_facts
(
    campaign_id LowCardinality(String),
    template_name LowCardinality(String),
    business_number_id LowCardinality(String),
    sent_day Date,
    wamid String,
    customer String,
    category LowCardinality(String),
    cost_micros Int64,
    sent_ms Int64,
    delivered_ms Nullable(Int64),
    is_delivered Bool,
    is_read Bool,
    is_failed Bool,
    marked_free Bool,
    reply_delay_ms Nullable(Int64),
    last_touch_orders Array(
        Tuple(wamid String, amount_minor Int64, currency String, delay_ms Int64)),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(sent_day)
ORDER BY (campaign_id, template_name, business_number_id, sent_day, wamid);

-- Sent / delivered / read / failed messages per funnel group (send day × business number ×
-- campaign × template), recounted from attributed_facts by the job for every group whose
-- messages it rewrote. version: Unix µs just before the recount's read.
CREATE TABLE IF NOT EXISTS funnel_counts
(
    campaign_id LowCardinality(String),
    template_name LowCardinality(String),
    business_number_id LowCardinality(String),
    sent_day Date,
    sent UInt64,
    delivered UInt64,
    read UInt64,
    failed UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (campaign_id, template_name, business_number_id, sent_day);

-- attributed_messages, redefined on the facts (same columns and meaning as in 005 and 006,
-- whose texts stay frozen). It shows the facts as of the job's last run.
CREATE OR REPLACE VIEW attributed_messages AS
SELECT
    wamid,
    customer,
    CAST(business_number_id AS String) AS business_number_id,
    CAST(campaign_id AS String) AS campaign_id,
    CAST(template_name AS String) AS template_name,
    CAST(category AS String) AS category,
    cost_micros,
    sent_ms,
    delivered_ms,
    is_delivered,
    is_read,
    reply_delay_ms,
    last_touch_orders
FROM attributed_facts FINAL
