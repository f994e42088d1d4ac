-- attributed_messages: one row per message the Cloud API accepted, with its delivery, read,
-- reply and last-touch facts. The funnel, ROI and segment queries all read it, so reply and
-- conversion attribution are defined once (docs/analysts.md, "Metrics and attribution").
--
-- Windows are left to the caller: the view gives delays, a query compares them with its
-- reply_window_ms / attribution_window_ms. Why not a parameterized view: chDB 26.9 takes
-- one, but ClickHouse servers take only literals as view arguments (ClickHouse issues 55039,
-- 87904: "Substitution ... is not set") and the dashboards pass expressions such as
-- (${attribution_days} * 86400000); a plain view runs anywhere. Why delays are enough:
-- - replied within W  ⇔  reply_delay_ms <= W (delay to the customer's first message to the
--   same business number at or after delivery; NULL when undelivered or never answered);
-- - last touch within W  ⇔  the latest delivered marketing message at or before the order is
--   at most W earlier (every earlier touch is further away), so each order lists its latest
--   touch once, in that message's last_touch_orders, with delay_ms; W keeps delay_ms <= W.
--
-- One pass, no joins of big tables: send results and receipts are grouped together by wamid,
-- then messages, replies and orders together by customer; attribution is array work within
-- one customer's row (ClickHouse re-evaluates a CTE at every reference, and hash joins of
-- millions of rows cost more than one GROUP BY over their union). Attribution considers every
-- stored message: filter the view's rows, never its inputs.

CREATE VIEW IF NOT EXISTS attributed_messages AS
WITH
    messages AS
    (
        -- One row per accepted message however often its rows were stored. Delivered = a
        -- delivered or a read receipt, at the earliest of them.
        SELECT
            wamid,
            anyIf(customer, is_send) AS customer,
            anyIf(business_number_id, is_send) AS business_number_id,
            anyIf(campaign_id, is_send) AS campaign_id,
            anyIf(template_name, is_send) AS template_name,
            anyIf(category, is_send) AS category,
            anyIf(cost_micros, is_send) AS cost_micros,
            minIf(ts_ms, is_send) AS sent_ms,
            minIf(ts_ms, status IN ('delivered', 'read')) AS delivered_ms,
            countIf(status IN ('delivered', 'read')) > 0 AS is_delivered,
            countIf(status = 'read') > 0 AS is_read
        FROM
        (
            SELECT wamid_key AS wamid, true AS is_send, customer,
                   CAST(business_number_id AS String) AS business_number_id,
                   ifNull(campaign_id, '') AS campaign_id,
                   ifNull(template_name, '') AS template_name,
                   CAST(category AS String) AS category, cost_micros, ts_ms, '' AS status
            FROM outbound_messages
            WHERE outcome = 'accepted' AND wamid_key != ''
            UNION ALL
            SELECT wamid, false, '', '', '', '', '', 0, ts_ms, CAST(status AS String)
            FROM message_status
        )
        GROUP BY wamid
        HAVING countIf(is_send) > 0
    ),
    per_customer AS
    (
        SELECT
            customer,
            CAST(
                groupArrayIf(
                    (wamid, business_number_id, campaign_id, template_name, category,
                     cost_micros, sent_ms, delivered_ms, is_delivered, is_read),
                    kind = 'message'),
                'Array(Tuple(wamid String, business_number_id String, campaign_id String,
                             template_name String, category String, cost_micros Int64,
                             sent_ms Int64, delivered_ms Int64, is_delivered Bool,
                             is_read Bool))'
            ) AS customer_messages,
            -- (business number, time) of each customer message.
            groupUniqArrayIf((business_number_id, sent_ms), kind = 'reply') AS replies,
            -- (order_id, time, amount_minor, currency): a duplicate order row adds nothing.
            groupUniqArrayIf((wamid, sent_ms, cost_micros, category), kind = 'order') AS orders
        FROM
        (
            SELECT customer, 'message' AS kind, wamid, business_number_id, campaign_id,
                   template_name, category, cost_micros, sent_ms, delivered_ms, is_delivered,
                   is_read
            FROM messages
            UNION ALL
            SELECT customer, 'reply', '', CAST(business_number_id AS String), '', '', '', 0,
                   ts_ms, 0, false, false
            FROM inbound_messages
            UNION ALL
            SELECT customer, 'order', order_id, '', '', '', CAST(currency AS String),
                   amount_minor, ts_ms, 0, false, false
            FROM purchases
        )
        GROUP BY customer
        HAVING notEmpty(customer_messages)
    ),
    touched AS
    (
        SELECT
            customer,
            customer_messages,
            replies,
            -- Delivered marketing messages in (delivered_ms, wamid) order, so arrayLast finds
            -- the latest touch at or before an order: last touch.
            arraySort(arrayMap(x -> (x.delivered_ms, x.wamid),
                               arrayFilter(x -> x.is_delivered AND x.category = 'marketing',
                                           customer_messages))) AS touches,
            -- Per order: the wamid of its latest touch ('' = none), and how long after that
            -- delivery the order came. Only what the queries use, so the arrays stay small.
            CAST(
                arrayMap((o, t) -> (t.2, o.3, o.4, o.2 - t.1),
                         orders,
                         arrayMap(o -> arrayLast(t -> t.1 <= o.2, touches), orders)),
                'Array(Tuple(wamid String, amount_minor Int64, currency String, delay_ms Int64))'
            ) AS order_touches
        FROM per_customer
    )
SELECT
    m.wamid AS wamid,
    customer,
    m.business_number_id AS business_number_id,
    m.campaign_id AS campaign_id,
    m.template_name AS template_name,
    m.category AS category,
    m.cost_micros AS cost_micros,
    m.sent_ms AS sent_ms,
    m.delivered_ms AS delivered_ms,
    m.is_delivered AS is_delivered,
    m.is_read AS is_read,
    reply_delay_ms,
    last_touch_orders
FROM touched
-- The per-message facts are computed as arrays within the customer's row and unnested
-- together: unnesting first would copy the customer's replies and orders onto every message.
ARRAY JOIN
    customer_messages AS m,
    -- minOrNull: NULL, not 0, when no reply came (arrayMin of an empty array is 0).
    arrayMap(x -> if(x.is_delivered,
                     arrayReduce('minOrNull',
                                 arrayMap(r -> r.2 - x.delivered_ms,
                                          arrayFilter(r -> r.1 = x.business_number_id
                                                           AND r.2 >= x.delivered_ms,
                                                      replies))),
                     NULL),
             customer_messages) AS reply_delay_ms,
    -- (wamid = this message, amount_minor, currency, delay_ms) of each order it last touched.
    arrayMap(x -> arrayFilter(o -> o.wamid = x.wamid, order_touches), customer_messages)
        AS last_touch_orders
