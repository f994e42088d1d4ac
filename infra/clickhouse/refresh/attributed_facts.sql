-- Re-attribute the customers of one run (attribution_batch, run_id): every message of theirs
-- with its reply and last-touch facts, written as new rows of attributed_facts (version).
-- The attribution is migration 006's attributed_messages view, applied to these customers
-- only (their messages found through customer_messages, their replies and orders through the
-- customer-first keys of inbound_messages and purchases):
-- - reply_delay_ms: the customer's first message to the same business number at or after the
--   delivery, minus the delivery time; NULL when undelivered or never answered;
-- - last_touch_orders: each order (once, however often stored) goes to the latest delivered
--   marketing message at or before it, ties broken by the larger wamid; delay_ms from that
--   delivery to the order. A query's window W keeps delay_ms <= W.
-- 9223372036854775807 stands for "not delivered", so every "at or after delivery" test fails.
INSERT INTO attributed_facts
    (campaign_id, template_name, business_number_id, sent_day, wamid, customer, category,
     cost_micros, sent_ms, delivered_ms, is_delivered, is_read, is_failed, marked_free,
     reply_delay_ms, last_touch_orders, version)
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
            groupArrayIf(delivered_ms, kind = 0) AS d,
            groupArrayIf(is_read, kind = 0) AS rd,
            groupArrayIf(is_failed, kind = 0) AS fl,
            groupArrayIf(marked_free, kind = 0) AS fr,
            groupArrayIf(business_number_id, kind = 1) AS rb,
            groupArrayIf(ts_ms, kind = 1) AS rt,
            groupArrayIf(wamid, kind = 2) AS oid,
            groupArrayIf(ts_ms, kind = 2) AS ots,
            groupArrayIf(cost_micros, kind = 2) AS amt,
            groupArrayIf(category, kind = 2) AS cur
        FROM
        (
            SELECT customer, 0 AS kind, wamid, CAST(business_number_id AS String)
                       AS business_number_id, campaign_id, template_name,
                   CAST(category AS String) AS category, cost_micros, sent_ms, delivered_ms,
                   is_read, is_failed, marked_free, 0 AS ts_ms
            FROM message_facts FINAL
            WHERE wamid IN
                  (
                      SELECT wamid
                      FROM customer_messages
                      WHERE customer IN
                            (SELECT customer FROM attribution_batch WHERE run_id = {run_id:UInt64})
                  )
              AND accepted = 1
            UNION ALL
            SELECT customer, 1, '', CAST(business_number_id AS String), '', '', '', 0, 0, 0,
                   0, 0, 0, ts_ms
            FROM inbound_messages
            WHERE customer IN (SELECT customer FROM attribution_batch WHERE run_id = {run_id:UInt64})
            UNION ALL
            SELECT customer, 2, order_id, '', '', '', CAST(currency AS String), amount_minor, 0,
                   0, 0, 0, 0, ts_ms
            FROM purchases
            WHERE customer IN (SELECT customer FROM attribution_batch WHERE run_id = {run_id:UInt64})
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
    campaign_id,
    template_name,
    business_number_id,
    toDate(fromUnixTimestamp64Milli(sent_ms, 'UTC')),
    wamid,
    customer,
    category,
    cost_micros,
    sent_ms,
    if(delivered = 9223372036854775807, NULL, delivered),
    delivered != 9223372036854775807,
    is_read = 1,
    is_failed = 1,
    marked_free = 1,
    reply_delay_ms,
    last_touch_orders,
    {version:UInt64}
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
    fl AS is_failed,
    fr AS marked_free,
    arrayMap((bi, di) -> arrayReduce('minOrNull',
                                     arrayMap((t, rbn) -> if(rbn = bi AND t >= di, t - di, NULL),
                                              rt, rb)),
             b, d) AS reply_delay_ms,
    arrayMap((wi, di, i) -> CAST(arrayMap(c -> (wi, c.2, c.3, c.4 - di),
                                          arrayFilter(c -> c.1 = i, credits)),
                                 'Array(Tuple(wamid String, amount_minor Int64, currency String,
                                              delay_ms Int64))'),
             w, d, arrayEnumerate(w)) AS last_touch_orders
