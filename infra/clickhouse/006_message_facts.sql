-- message_facts: one row per outbound message (wamid) with its send result and receipt facts,
-- kept by two materialized views inside ClickHouse; the `messages` view reads it merged.
-- The funnel, ROI, segment and provider-cost queries read `messages` / `attributed_messages`
-- instead of regrouping millions of raw send results and receipts at every query.
--
-- Why SimpleAggregateFunction(min/max): each view writes the facts it knows and neutral
-- values for the rest ('' or 0 for max, NO_TIME for min); merges, FINAL or GROUP BY wamid
-- combine the rows of one message. min and max are idempotent and order-free, so a duplicate
-- row (at-least-once sink), a receipt stored before its send result, a late receipt with an
-- earlier event time, or a read without a delivered receipt all end in the same facts.
-- NO_TIME (the largest Int64) stands for "no such event"; `messages` turns it into NULL.
--
-- The funnel_daily rollup (002) is dropped: message_facts answers the same counts exactly
-- and faster, and its two join views slowed every insert of receipts and send results.

CREATE TABLE IF NOT EXISTS message_facts
(
    wamid String,
    accepted SimpleAggregateFunction(max, UInt8),
    customer SimpleAggregateFunction(max, String),
    business_number_id SimpleAggregateFunction(max, LowCardinality(String)),
    campaign_id SimpleAggregateFunction(max, String),
    template_name SimpleAggregateFunction(max, String),
    category SimpleAggregateFunction(max, LowCardinality(String)),
    cost_micros SimpleAggregateFunction(max, Int64),
    sent_ms SimpleAggregateFunction(min, Int64),
    delivered_ms SimpleAggregateFunction(min, Int64),
    is_read SimpleAggregateFunction(max, UInt8),
    is_failed SimpleAggregateFunction(max, UInt8),
    marked_free SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY wamid;

CREATE MATERIALIZED VIEW IF NOT EXISTS message_facts_sent_mv TO message_facts AS
SELECT
    wamid_key AS wamid,
    toUInt8(1) AS accepted,
    customer,
    CAST(business_number_id AS String) AS business_number_id,
    ifNull(campaign_id, '') AS campaign_id,
    ifNull(template_name, '') AS template_name,
    CAST(category AS String) AS category,
    cost_micros,
    ts_ms AS sent_ms,
    toInt64(9223372036854775807) AS delivered_ms,
    toUInt8(0) AS is_read,
    toUInt8(0) AS is_failed,
    toUInt8(0) AS marked_free
FROM outbound_messages
WHERE outcome = 'accepted' AND wamid_key != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS message_facts_status_mv TO message_facts AS
SELECT
    wamid,
    toUInt8(0) AS accepted,
    '' AS customer,
    '' AS business_number_id,
    '' AS campaign_id,
    '' AS template_name,
    '' AS category,
    toInt64(0) AS cost_micros,
    toInt64(9223372036854775807) AS sent_ms,
    if(status IN ('delivered', 'read'), ts_ms, toInt64(9223372036854775807)) AS delivered_ms,
    toUInt8(status = 'read') AS is_read,
    toUInt8(status = 'failed') AS is_failed,
    toUInt8(ifNull(pricing_billable = false, false)) AS marked_free
FROM message_status;

-- Backfill what was stored before this migration. Rows the views wrote meanwhile are
-- harmless: min/max of the same facts twice are the same facts.
INSERT INTO message_facts
SELECT
    wamid_key, 1, customer, CAST(business_number_id AS String), ifNull(campaign_id, ''),
    ifNull(template_name, ''), CAST(category AS String), cost_micros, ts_ms,
    9223372036854775807, 0, 0, 0
FROM outbound_messages
WHERE outcome = 'accepted' AND wamid_key != '';

INSERT INTO message_facts
SELECT
    wamid, 0, '', '', '', '', '', 0, 9223372036854775807,
    if(status IN ('delivered', 'read'), ts_ms, 9223372036854775807), status = 'read',
    status = 'failed', ifNull(pricing_billable = false, false)
FROM message_status;

DROP VIEW IF EXISTS funnel_daily_sent_mv;
DROP VIEW IF EXISTS funnel_daily_status_mv;
DROP TABLE IF EXISTS funnel_daily;

-- messages: one row per message the Cloud API accepted, its facts merged.
-- delivered_ms is NULL when no delivered or read receipt came.
CREATE VIEW IF NOT EXISTS messages AS
SELECT
    wamid,
    customer,
    CAST(business_number_id AS String) AS business_number_id,
    campaign_id,
    template_name,
    CAST(category AS String) AS category,
    cost_micros,
    sent_ms,
    if(delivered_ms = 9223372036854775807, NULL, delivered_ms) AS delivered_ms,
    delivered_ms IS NOT NULL AS is_delivered,
    is_read = 1 AS is_read,
    is_failed = 1 AS is_failed,
    marked_free = 1 AS marked_free
FROM message_facts FINAL
WHERE accepted = 1;

-- attributed_messages, redefined on `messages` (same columns and meaning as in 005; 005's text
-- stays frozen, this replaces it). What changed is cost: 005 regrouped every raw send result
-- and receipt by wamid and then built per-customer arrays of wide tuples, which ClickHouse
-- aggregates through its slow generic path. Here the messages come merged from message_facts,
-- and each customer's messages, replies and orders are gathered in one GROUP BY into plain
-- column arrays (groupArrayIf of strings and numbers). Attribution is array work within the
-- customer's row, as before:
-- - reply_delay_ms: the customer's first message to the same business number at or after the
--   delivery, minus the delivery time; NULL when undelivered or never answered;
-- - last_touch_orders: each order (once, however often stored) goes to the latest delivered
--   marketing message at or before it, ties broken by the larger wamid; delay_ms from that
--   delivery to the order. A query's window W keeps delay_ms <= W.
CREATE OR REPLACE VIEW attributed_messages AS
WITH
    per_customer AS
    (
        -- kind 0: a message, 1: a customer's message (reply), 2: an order row.
        SELECT
            customer,
            groupArrayIf(wamid, kind = 0) AS w,
            groupArrayIf(business_number_id, kind = 0) AS b,
            groupArrayIf(campaign_id, kind = 0) AS camp,
            groupArrayIf(template_name, kind = 0) AS tmpl,
            groupArrayIf(category, kind = 0) AS cat,
            groupArrayIf(cost_micros, kind = 0) AS cost,
            groupArrayIf(sent_ms, kind = 0) AS sent,
            -- 9223372036854775807 = not delivered, so every "at or after delivery" test fails for it.
            groupArrayIf(delivered_ms, kind = 0) AS d,
            groupArrayIf(is_read, kind = 0) AS rd,
            groupArrayIf(business_number_id, kind = 1) AS rb,
            groupArrayIf(ts_ms, kind = 1) AS rt,
            groupArrayIf(wamid, kind = 2) AS oid,
            groupArrayIf(ts_ms, kind = 2) AS ots,
            groupArrayIf(cost_micros, kind = 2) AS amt,
            groupArrayIf(category, kind = 2) AS cur
        FROM
        (
            SELECT customer, 0 AS kind, wamid, business_number_id, campaign_id, template_name,
                   category, cost_micros, sent_ms,
                   ifNull(delivered_ms, 9223372036854775807) AS delivered_ms, is_read, 0 AS ts_ms
            FROM messages
            UNION ALL
            SELECT customer, 1, '', CAST(business_number_id AS String), '', '', '', 0, 0, 0,
                   false, ts_ms
            FROM inbound_messages
            UNION ALL
            SELECT customer, 2, order_id, '', '', '', CAST(currency AS String), amount_minor, 0,
                   0, false, ts_ms
            FROM purchases
        )
        GROUP BY customer
        HAVING notEmpty(w)
    ),
    attributed AS
    (
        SELECT
            *,
            -- Delivered marketing messages as indexes into w, in (delivered_ms, wamid) order,
            -- so arrayLast finds an order's last touch.
            arraySort(i -> (d[i], w[i]),
                      arrayFilter(i -> d[i] != 9223372036854775807 AND cat[i] = 'marketing',
                                  arrayEnumerate(w))) AS touches,
            -- Per order, its first stored row only (arrayEnumerateUniq = 1): (index of its
            -- last touch in w, amount_minor, currency, ts_ms); orders without a touch dropped.
            arrayFilter(c -> c.1 != 0,
                        arrayMap((t, a, c, first) ->
                                     (if(first = 1, arrayLast(i -> d[i] <= t, touches), 0),
                                      a, c, t),
                                 ots, amt, cur, arrayEnumerateUniq(oid))) AS credits
        FROM per_customer
    )
SELECT
    wamid,
    customer,
    business_number_id,
    campaign_id,
    template_name,
    category,
    cost_micros,
    sent_ms,
    if(delivered = 9223372036854775807, NULL, delivered) AS delivered_ms,
    delivered != 9223372036854775807 AS is_delivered,
    is_read,
    reply_delay_ms,
    last_touch_orders
FROM attributed
-- Per-message facts are computed as arrays within the customer's row and unnested together:
-- unnesting first would copy the customer's replies and orders onto every message.
ARRAY JOIN
    w AS wamid,
    b AS business_number_id,
    camp AS campaign_id,
    tmpl AS template_name,
    cat AS category,
    cost AS cost_micros,
    sent AS sent_ms,
    d AS delivered,
    rd AS is_read,
    arrayMap((bi, di) -> arrayReduce('minOrNull',
                                     arrayMap((t, rbn) -> if(rbn = bi AND t >= di, t - di, NULL),
                                              rt, rb)),
             b, d) AS reply_delay_ms,
    arrayMap((wi, di, i) -> CAST(arrayMap(c -> (wi, c.2, c.3, c.4 - di),
                                          arrayFilter(c -> c.1 = i, credits)),
                                 'Array(Tuple(wamid String, amount_minor Int64, currency String,
                                              delay_ms Int64))'),
             w, d, arrayEnumerate(w)) AS last_touch_orders;
