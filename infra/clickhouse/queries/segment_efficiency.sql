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
WITH
    messages AS
    (
        SELECT
            wamid_key AS wamid,
            any(customer) AS customer,
            ifNull(any(campaign_id), '') AS campaign_id,
            any(category) AS category,
            any(cost_micros) AS cost_micros,
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
            countIf(status = 'read') > 0 AS is_read
        FROM message_status
        WHERE wamid IN (SELECT wamid FROM messages WHERE category = 'marketing')
          AND status IN ('delivered', 'read')
        GROUP BY wamid
    ),
    touches AS
    (
        SELECT r.wamid AS wamid, m.customer AS customer, r.delivered_ms AS delivered_ms
        FROM receipts AS r
        INNER JOIN messages AS m ON m.wamid = r.wamid
    ),
    orders AS
    (
        SELECT order_id, any(p.customer) AS customer, min(p.ts_ms) AS ts_ms
        FROM (SELECT order_id, customer, ts_ms FROM purchases
              WHERE customer IN (SELECT customer FROM touches)) AS p
        GROUP BY order_id
    ),
    converted AS
    (
        SELECT DISTINCT argMax(t.wamid, (t.delivered_ms, t.wamid)) AS wamid
        FROM orders AS o
        INNER JOIN touches AS t ON t.customer = o.customer
        WHERE t.delivered_ms <= o.ts_ms AND o.ts_ms - t.delivered_ms <= {attribution_window_ms:Int64}
        GROUP BY o.order_id
    ),
    strategies AS
    (
        SELECT
            c.campaign_id AS campaign_id,
            multiIf(
                s.spec_segmentation IN ('none', 'frequency', 'value', 'heat'), s.spec_segmentation,
                splitByChar(':', c.campaign_id)[1] IN ('none', 'frequency', 'value', 'heat')
                    AND position(c.campaign_id, ':') > 0,
                splitByChar(':', c.campaign_id)[1],
                'unknown'
            ) AS strategy
        FROM (SELECT DISTINCT campaign_id FROM messages WHERE campaign_id != '') AS c
        LEFT JOIN campaigns AS s ON s.campaign_id = c.campaign_id
    ),
    per_strategy AS
    (
        SELECT
            st.strategy AS strategy,
            uniqExact(m.campaign_id) AS campaigns,
            countIf(m.category = 'marketing' AND r.wamid != '') AS delivered,
            countIf(m.category = 'marketing' AND r.is_read) AS read,
            countIf(m.wamid IN (SELECT wamid FROM converted)) AS converted,
            sum(m.cost_micros) AS cost_micros
        FROM messages AS m
        INNER JOIN strategies AS st ON st.campaign_id = m.campaign_id
        LEFT JOIN receipts AS r ON r.wamid = m.wamid
        WHERE m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
        GROUP BY strategy
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
    if(baseline.rate IS NULL OR baseline.rate = 0 OR delivered = 0, NULL,
       (converted / delivered) / baseline.rate - 1) AS conversion_lift,
    if(converted = 0, NULL, cost_micros / converted) AS cost_per_conversion_micros
FROM per_strategy
CROSS JOIN
(
    SELECT anyIf(if(delivered = 0, NULL, converted / delivered), strategy = 'none') AS rate
    FROM per_strategy
) AS baseline
ORDER BY indexOf(['none', 'frequency', 'value', 'heat', 'unknown'], strategy)
SETTINGS join_use_nulls = 0
