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
WITH
    messages AS
    (
        SELECT
            wamid_key AS wamid,
            any(customer) AS customer,
            any(business_number_id) AS business_number_id,
            ifNull(any(campaign_id), '') AS campaign_id,
            ifNull(any(template_name), '') AS template_name,
            any(category) AS category,
            min(ts_ms) AS sent_ms
        FROM outbound_messages
        WHERE outcome = 'accepted' AND wamid_key != ''
        GROUP BY wamid_key
    ),
    receipts AS
    (
        SELECT
            wamid,
            minIf(ts_ms, status IN ('delivered', 'read')) AS delivered_ms,
            countIf(status IN ('delivered', 'read')) > 0 AS is_delivered,
            countIf(status = 'read') > 0 AS is_read
        FROM message_status
        WHERE wamid IN (SELECT wamid FROM messages)
        GROUP BY wamid
    ),
    delivered AS
    (
        SELECT m.wamid AS wamid, m.customer AS customer, m.business_number_id AS business_number_id,
               m.category AS category, r.delivered_ms AS delivered_ms, r.is_read AS is_read
        FROM messages AS m
        INNER JOIN receipts AS r ON r.wamid = m.wamid
        WHERE r.is_delivered
    ),
    replied AS
    (
        SELECT DISTINCT d.wamid AS wamid
        FROM delivered AS d
        INNER JOIN
        (
            SELECT DISTINCT customer, CAST(business_number_id AS String) AS business_number_id, ts_ms
            FROM inbound_messages
            WHERE customer IN (SELECT customer FROM delivered)
        ) AS i ON i.customer = d.customer AND i.business_number_id = d.business_number_id
        WHERE i.ts_ms >= d.delivered_ms AND i.ts_ms <= d.delivered_ms + {reply_window_ms:Int64}
    ),
    orders AS
    (
        -- One row per order however often it was stored (order_id is the idempotency key).
        SELECT order_id, any(p.customer) AS customer, min(p.ts_ms) AS ts_ms
        FROM (SELECT order_id, customer, ts_ms FROM purchases
              WHERE customer IN (SELECT customer FROM delivered)) AS p
        GROUP BY order_id
    ),
    converted AS
    (
        SELECT DISTINCT argMax(d.wamid, (d.delivered_ms, d.wamid)) AS wamid
        FROM orders AS o
        INNER JOIN delivered AS d ON d.customer = o.customer
        WHERE d.category = 'marketing'
          AND d.delivered_ms <= o.ts_ms
          AND o.ts_ms - d.delivered_ms <= {attribution_window_ms:Int64}
        GROUP BY o.order_id
    )
SELECT
    multiIf(
        {grain:String} = 'campaign', m.campaign_id,
        {grain:String} = 'template', m.template_name,
        {grain:String} = 'day', toString(toDate(fromUnixTimestamp64Milli(m.sent_ms, 'UTC'))),
        m.business_number_id
    ) AS key,
    count() AS sent,
    countIf(d.wamid != '') AS delivered,
    countIf(d.is_read) AS read,
    countIf(m.wamid IN (SELECT wamid FROM replied)) AS replied,
    countIf(d.wamid != '' AND m.category = 'marketing') AS delivered_marketing,
    countIf(m.wamid IN (SELECT wamid FROM converted)) AS converted,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate,
    if(delivered = 0, NULL, replied / delivered) AS reply_rate,
    if(delivered_marketing = 0, NULL, converted / delivered_marketing) AS conversion_rate
FROM messages AS m
LEFT JOIN delivered AS d ON d.wamid = m.wamid
WHERE m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
GROUP BY key
ORDER BY key
SETTINGS join_use_nulls = 0
