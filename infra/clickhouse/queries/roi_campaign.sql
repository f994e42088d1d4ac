-- roi_campaign: cost, attributed revenue and ROI per campaign (ROI = revenue / cost).
-- cost = cost_micros of accepted messages (the sender's estimate, price-table currency).
-- revenue = purchases attributed last touch (as in the funnel query) to the campaign's
-- delivered marketing messages, in `currency`, converted to micros with
-- minor_units_per_major (100 for USD/EUR, 1 for KRW/JPY). Compare like with like: the price
-- table's currency should be `currency`.
-- @param currency String = USD: ISO 4217 currency of the revenue counted
-- @param minor_units_per_major UInt32 = 100: minor units in one major unit of `currency`
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
    )
SELECT
    m.campaign_id AS campaign_id,
    count() AS messages,
    sum(m.cost_micros) AS cost_micros,
    sum(arrayCount((w, o) -> w = m.wamid AND o.4 = {currency:String}, credited, orders))
        AS attributed_orders,
    sum(arraySum((w, o) -> if(w = m.wamid AND o.4 = {currency:String}, o.3, 0), credited, orders))
        AS revenue_minor,
    intDiv(revenue_minor * 1000000, {minor_units_per_major:UInt32}) AS revenue_micros,
    if(cost_micros = 0, NULL, revenue_micros / cost_micros) AS roi,
    if(messages = 0, NULL, revenue_micros / messages) AS revenue_per_message_micros
FROM attributed
ARRAY JOIN customer_messages AS m
WHERE m.campaign_id != ''
GROUP BY campaign_id
ORDER BY campaign_id
