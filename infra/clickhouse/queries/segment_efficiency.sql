-- segment_efficiency: open rate, conversion lift and cost per conversion by segmentation.
-- A campaign's strategy is `segmentation` in its launch spec on campaigns.control.v1
-- ({"segmentation": "none|frequency|value|heat"}); without one, the campaign_id prefix before
-- the first ':' when it is one of those words ("heat:spring-sale"); else "unknown".
-- Per strategy, over delivered marketing messages of campaigns: open_rate = read/delivered;
-- conversion_rate = converted/delivered (last touch, as in the funnel query);
-- lift = conversion_rate / conversion_rate of "none" - 1 (NULL without a baseline);
-- cost_per_conversion_micros = cost of accepted messages / converted messages.
-- @param from_ms Int64 = 0: campaign messages sent at or after this time (Unix ms)
-- @param to_ms Int64 = 4102444800000: campaign messages sent before this time (Unix ms)
-- @param attribution_window_ms Int64 = 604800000: longest wait from delivery to a purchase
-- One pass, no joins of big tables: send results and receipts are grouped together by wamid,
-- then messages, replies and orders together by customer; attribution is array work within
-- one customer's row (ClickHouse re-evaluates a CTE at every reference, and hash joins of
-- millions of rows cost more than one GROUP BY over their union).
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
    attributed AS
    (
        SELECT
            customer_messages,
            replies,
            orders,
            -- Delivered marketing messages in (delivered_ms, wamid) order, so arrayLast finds
            -- the latest touch at or before an order, within the window: last touch.
            arraySort(arrayMap(x -> (x.delivered_ms, x.wamid),
                               arrayFilter(x -> x.is_delivered AND x.category = 'marketing',
                                           customer_messages))) AS touches,
            -- Per order: the wamid credited with it ('' = none).
            arrayMap(o -> arrayLast(t -> t.1 <= o.2
                                         AND o.2 - t.1 <= {attribution_window_ms:Int64},
                                    touches).2,
                     orders) AS credited
        FROM per_customer
    ),
    per_campaign AS
    (
        SELECT
            m.campaign_id AS campaign_id,
            countIf(m.category = 'marketing' AND m.is_delivered) AS delivered,
            countIf(m.category = 'marketing' AND m.is_read) AS read,
            countIf(has(credited, m.wamid)) AS converted,
            sum(m.cost_micros) AS cost_micros
        FROM attributed
        ARRAY JOIN customer_messages AS m
        WHERE m.campaign_id != '' AND m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
        GROUP BY campaign_id
    ),
    per_strategy AS
    (
        SELECT
            multiIf(
                s.spec_segmentation IN ('none', 'frequency', 'value', 'heat'), s.spec_segmentation,
                splitByChar(':', c.campaign_id)[1] IN ('none', 'frequency', 'value', 'heat')
                    AND position(c.campaign_id, ':') > 0,
                splitByChar(':', c.campaign_id)[1],
                'unknown'
            ) AS strategy,
            count() AS campaigns,
            sum(c.delivered) AS delivered,
            sum(c.read) AS read,
            sum(c.converted) AS converted,
            sum(c.cost_micros) AS cost_micros
        FROM per_campaign AS c
        LEFT JOIN campaigns AS s ON s.campaign_id = c.campaign_id
        GROUP BY strategy
        SETTINGS join_use_nulls = 0
    )
SELECT
    strategy,
    campaigns,
    delivered,
    read,
    converted,
    cost_micros,
    if(delivered = 0, NULL, read / delivered) AS open_rate,
    if(delivered = 0, NULL, converted / delivered) AS conversion_rate,
    -- The baseline is the "none" row, found with a window so per_strategy is computed once.
    anyIf(conversion_rate, strategy = 'none') OVER () AS baseline_rate,
    if(baseline_rate IS NULL OR baseline_rate = 0 OR conversion_rate IS NULL, NULL,
       conversion_rate / baseline_rate - 1) AS conversion_lift,
    if(converted = 0, NULL, cost_micros / converted) AS cost_per_conversion_micros
FROM per_strategy
ORDER BY indexOf(['none', 'frequency', 'value', 'heat', 'unknown'], strategy)
