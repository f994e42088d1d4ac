-- Raw tables, one per topic. Columns are the Avro record fields with the same names
-- (pipeline/events.py); the sink inserts exactly those. Derived columns are MATERIALIZED.
--
-- Dedup: at-least-once delivery can insert an event twice. Every table is a ReplacingMergeTree
-- whose ORDER BY ends in the event's idempotency key, and duplicates carry identical key
-- columns, so merges collapse them. Merges are eventual: queries must still be robust to
-- unmerged duplicates (FINAL, uniqExact(event_id) or argMax per key).
-- PARTITION BY month of event time: duplicates of one event share it (same ts_ms).

CREATE TABLE IF NOT EXISTS inbound_messages
(
    event_id String,
    business_number_id LowCardinality(String),
    customer String,
    profile_name Nullable(String),
    type LowCardinality(String),
    text Nullable(String),
    payload Nullable(String),
    media_id Nullable(String),
    mime_type Nullable(String),
    context_id Nullable(String),
    raw_json Nullable(String),
    ts_ms Int64,
    ingested_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_ms)
PARTITION BY toYYYYMM(ts)
-- Reply attribution looks up a customer's messages after a time.
ORDER BY (customer, ts_ms, event_id);

CREATE TABLE IF NOT EXISTS message_status
(
    event_id String,
    wamid String,
    business_number_id LowCardinality(String),
    customer String,
    status LowCardinality(String),
    ts_ms Int64,
    conversation_id Nullable(String),
    conversation_category Nullable(String),
    conversation_expiration_ms Nullable(Int64),
    pricing_billable Nullable(Bool),
    pricing_model Nullable(String),
    pricing_type Nullable(String),
    pricing_category Nullable(String),
    error_code Nullable(Int32),
    error_title Nullable(String),
    error_details Nullable(String),
    biz_opaque_callback_data Nullable(String),
    ingested_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_ms)
PARTITION BY toYYYYMM(ts)
-- event_id = wamid:status; the funnel groups receipts by message.
ORDER BY (wamid, event_id);

CREATE TABLE IF NOT EXISTS outbound_messages
(
    command_id String,
    wamid Nullable(String),
    customer String,
    business_number_id LowCardinality(String),
    outcome LowCardinality(String),
    reason Nullable(String),
    error_code Nullable(Int32),
    attempts Int32,
    category LowCardinality(String),
    campaign_id Nullable(String),
    variant Nullable(String),
    template_name Nullable(String),
    origin LowCardinality(String),
    cost_micros Int64,
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC'),
    -- Non-null join key to receipts ('' for messages never accepted).
    wamid_key String MATERIALIZED ifNull(wamid, '')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
-- Every command ends in exactly one SendResult: command_id is the dedup key; wamid_key first
-- so the funnel rollup finds a receipt's message through the primary index.
ORDER BY (wamid_key, command_id);

CREATE TABLE IF NOT EXISTS outbound_commands
(
    command_id String,
    customer String,
    business_number_id LowCardinality(String),
    kind LowCardinality(String),
    body Nullable(String),
    template_name Nullable(String),
    template_language Nullable(String),
    template_params Array(String),
    category LowCardinality(String),
    campaign_id Nullable(String),
    variant Nullable(String),
    origin LowCardinality(String),
    priority Int32,
    customer_value_minor Int64,
    reply_to_wamid Nullable(String),
    not_before_ms Nullable(Int64),
    expires_at_ms Nullable(Int64),
    created_ms Int64,
    created DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(created_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created)
ORDER BY command_id;

CREATE TABLE IF NOT EXISTS purchases
(
    order_id String,
    customer String,
    amount_minor Int64,
    currency LowCardinality(String),
    items Array(Tuple(sku String, quantity Int64, amount_minor Int64)),
    ts_ms Int64,
    source LowCardinality(String),
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
-- order_id is the idempotency key; attribution and LTV look purchases up by customer.
ORDER BY (customer, order_id);

CREATE TABLE IF NOT EXISTS tag_changes
(
    event_id String,
    customer String,
    tag LowCardinality(String),
    change LowCardinality(String),
    reason String,
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (customer, tag, event_id);

CREATE TABLE IF NOT EXISTS alarms
(
    alarm_id String,
    kind LowCardinality(String),
    scope String,
    value Float64,
    threshold Float64,
    sample Int64,
    state LowCardinality(String),
    priority Bool,
    detail Nullable(String),
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
-- alarm_id is stable across firing/resolved, so one alarm event = (alarm_id, state, ts_ms).
ORDER BY (kind, alarm_id, ts_ms, state);

CREATE TABLE IF NOT EXISTS consent_changes
(
    event_id String,
    customer String,
    business_number_id Nullable(String),
    consent LowCardinality(String),
    source LowCardinality(String),
    detail Nullable(String),
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (customer, event_id);

CREATE TABLE IF NOT EXISTS dead_letters
(
    event_id String,
    source LowCardinality(String),
    reason String,
    raw String,
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (source, event_id);

CREATE TABLE IF NOT EXISTS campaign_controls
(
    event_id String,
    campaign_id String,
    action LowCardinality(String),
    spec_json Nullable(String),
    reason Nullable(String),
    ts_ms Int64,
    ts DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(ts_ms, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (campaign_id, event_id);
