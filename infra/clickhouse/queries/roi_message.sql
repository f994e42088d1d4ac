-- roi_message: cost, attributed revenue and ROI per message (ROI = revenue / cost).
-- cost = cost_micros of accepted messages (the sender's estimate, price-table currency).
-- revenue = purchases attributed last touch (as in the funnel query) to the campaign's
-- delivered marketing messages, in `currency`, converted to micros with
-- minor_units_per_major (100 for USD/EUR, 1 for KRW/JPY). Compare like with like: the price
-- table's currency should be `currency`.
-- @param currency String = USD: ISO 4217 currency of the revenue counted
-- @param minor_units_per_major UInt32 = 100: minor units in one major unit of `currency`
-- @param attribution_window_ms Int64 = 604800000: longest wait from delivery to a purchase
-- @param limit UInt32 = 100: at most this many messages, highest revenue first
WITH
    messages AS
    (
        SELECT
            wamid_key AS wamid,
            any(customer) AS customer,
            ifNull(any(campaign_id), '') AS campaign_id,
            ifNull(any(template_name), '') AS template_name,
            min(ts_ms) AS sent_ms,
            any(category) AS category,
            any(cost_micros) AS cost_micros
        FROM outbound_messages
        WHERE outcome = 'accepted' AND wamid_key != ''
        GROUP BY wamid_key
    ),
    delivered AS
    (
        SELECT wamid, minIf(ts_ms, status IN ('delivered', 'read')) AS delivered_ms
        FROM message_status
        WHERE wamid IN (SELECT wamid FROM messages WHERE category = 'marketing')
          AND status IN ('delivered', 'read')
        GROUP BY wamid
    ),
    touches AS
    (
        SELECT d.wamid AS wamid, m.customer AS customer, d.delivered_ms AS delivered_ms
        FROM delivered AS d
        INNER JOIN messages AS m ON m.wamid = d.wamid
    ),
    orders AS
    (
        SELECT order_id, any(p.customer) AS customer, any(p.amount_minor) AS amount_minor,
               any(CAST(p.currency AS String)) AS currency, min(p.ts_ms) AS ts_ms
        FROM (SELECT order_id, customer, amount_minor, currency, ts_ms FROM purchases
              WHERE customer IN (SELECT customer FROM touches)) AS p
        GROUP BY order_id
    ),
    attributed AS
    (
        SELECT
            argMax(t.wamid, (t.delivered_ms, t.wamid)) AS wamid,
            any(o.amount_minor) AS amount_minor,
            any(o.currency) AS currency
        FROM orders AS o
        INNER JOIN touches AS t ON t.customer = o.customer
        WHERE t.delivered_ms <= o.ts_ms AND o.ts_ms - t.delivered_ms <= {attribution_window_ms:Int64}
        GROUP BY o.order_id
    ),
    revenue AS
    (
        SELECT wamid, count() AS attributed_orders, sum(amount_minor) AS revenue_minor
        FROM attributed
        WHERE currency = {currency:String}
        GROUP BY wamid
    )
SELECT
    m.wamid AS wamid,
    m.campaign_id AS campaign_id,
    m.template_name AS template_name,
    m.sent_ms AS sent_ms,
    m.cost_micros AS cost_micros,
    r.attributed_orders AS attributed_orders,
    r.revenue_minor AS revenue_minor,
    intDiv(r.revenue_minor * 1000000, {minor_units_per_major:UInt32}) AS revenue_micros,
    if(m.cost_micros = 0, NULL, revenue_micros / m.cost_micros) AS roi
FROM messages AS m
LEFT JOIN revenue AS r ON r.wamid = m.wamid
ORDER BY revenue_micros DESC, m.wamid
LIMIT {limit:UInt32}
SETTINGS join_use_nulls = 0
