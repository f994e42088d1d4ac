-- funnel: sent → delivered → read → replied → converted per campaign, template, day or number.
-- sent       = messages the Cloud API accepted (one per wamid, however often stored).
-- delivered  = a delivered or a read receipt (read without delivered counts as delivered).
-- replied    = the customer wrote to the same business number within reply_window_ms of the
--              delivery (earliest delivered/read receipt).
-- converted  = a delivered marketing message that is the last touch before a purchase: the
--              latest delivery to that customer at or before the purchase, at most
--              attribution_window_ms earlier. One purchase converts at most one message.
-- Rates: delivery = delivered/sent, read = read/delivered, reply = replied/delivered,
-- conversion = converted/delivered marketing messages (NULL when the denominator is 0).
-- Attribution considers every stored message; from_ms/to_ms only pick the rows reported.
-- @param grain String = campaign: one of campaign|template|day|business_number
-- @param from_ms Int64 = 0: report messages sent at or after this time (Unix ms)
-- @param to_ms Int64 = 4102444800000: report messages sent before this time (Unix ms)
-- @param reply_window_ms Int64 = 86400000: longest wait from delivery to a reply that counts
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
    multiIf(
        {grain:String} = 'campaign', m.campaign_id,
        {grain:String} = 'template', m.template_name,
        {grain:String} = 'day', toString(toDate(fromUnixTimestamp64Milli(m.sent_ms, 'UTC'))),
        m.business_number_id
    ) AS key,
    count() AS sent,
    countIf(m.is_delivered) AS delivered,
    countIf(m.is_read) AS read,
    countIf(
        m.is_delivered
        AND arrayExists(
            r -> r.1 = m.business_number_id
                 AND r.2 >= m.delivered_ms
                 AND r.2 <= m.delivered_ms + {reply_window_ms:Int64},
            replies)
    ) AS replied,
    countIf(m.is_delivered AND m.category = 'marketing') AS delivered_marketing,
    countIf(has(credited, m.wamid)) AS converted,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate,
    if(delivered = 0, NULL, replied / delivered) AS reply_rate,
    if(delivered_marketing = 0, NULL, converted / delivered_marketing) AS conversion_rate
FROM attributed
ARRAY JOIN customer_messages AS m
WHERE m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
GROUP BY key
ORDER BY key
