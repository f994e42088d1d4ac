-- provider_cost: monthly cost of the observed volume under each provider preset.
-- Volume = messages the Cloud API accepted, by send month (UTC). A provider charges its
-- monthly fee plus per_message for every message beyond its free allowance
-- (provider_presets). Every provider also passes on Meta's fees: a delivered (or read)
-- marketing, utility or authentication message is charged at meta_prices for its category
-- and the customer's country (longest calling-code prefix), unless a receipt said
-- pricing.billable = false; the first meta_free_per_month chargeable messages of a month
-- (in send order) are free. Money in micros of the price tables' currency (USD).
-- @param meta_free_per_month Int64 = 1000: Meta's monthly free tier, in messages
WITH
    messages AS
    (
        SELECT wamid_key AS wamid, any(customer) AS customer,
               CAST(any(category) AS String) AS category, min(ts_ms) AS sent_ms
        FROM outbound_messages
        WHERE outcome = 'accepted' AND wamid_key != ''
        GROUP BY wamid_key
    ),
    receipts AS
    (
        SELECT
            wamid,
            countIf(status IN ('delivered', 'read')) > 0 AS is_delivered,
            countIf(pricing_billable = false) > 0 AS marked_free
        FROM message_status
        WHERE wamid IN (SELECT wamid FROM messages)
        GROUP BY wamid
    ),
    chargeable AS
    (
        SELECT m.wamid AS wamid, m.customer AS customer, m.category AS category,
               m.sent_ms AS sent_ms
        FROM messages AS m
        INNER JOIN receipts AS r ON r.wamid = m.wamid
        WHERE r.is_delivered AND NOT r.marked_free
          AND m.category IN ('marketing', 'utility', 'authentication')
    ),
    priced AS
    (
        SELECT c.wamid AS wamid, any(c.sent_ms) AS sent_ms,
               argMax(p.price_micros, length(p.calling_code)) AS price_micros
        FROM chargeable AS c
        INNER JOIN
        (
            SELECT calling_code, CAST(category AS String) AS category, price_micros
            FROM meta_prices FINAL
        ) AS p ON p.category = c.category
        WHERE startsWith(c.customer, p.calling_code)
        GROUP BY c.wamid
    ),
    meta AS
    (
        SELECT month, count() AS meta_billable, countIf(n > {meta_free_per_month:Int64}) AS meta_charged,
               sumIf(price_micros, n > {meta_free_per_month:Int64}) AS meta_micros
        FROM
        (
            SELECT toStartOfMonth(fromUnixTimestamp64Milli(sent_ms, 'UTC')) AS month, price_micros,
                   row_number() OVER (PARTITION BY month ORDER BY sent_ms, wamid) AS n
            FROM priced
        )
        GROUP BY month
    ),
    volume AS
    (
        SELECT toStartOfMonth(fromUnixTimestamp64Milli(sent_ms, 'UTC')) AS month,
               count() AS messages
        FROM messages
        GROUP BY month
    )
SELECT
    v.month AS month,
    p.provider AS provider,
    v.messages AS messages,
    p.monthly_fee_micros AS monthly_fee_micros,
    toInt64(greatest(v.messages - p.free_messages_per_month, 0)) * p.per_message_micros
        AS per_message_micros,
    m.meta_billable AS meta_billable,
    m.meta_charged AS meta_charged,
    m.meta_micros AS meta_micros,
    monthly_fee_micros + per_message_micros + meta_micros AS total_micros
FROM volume AS v
CROSS JOIN (SELECT * FROM provider_presets FINAL) AS p
LEFT JOIN meta AS m ON m.month = v.month
ORDER BY month, total_micros, provider
SETTINGS join_use_nulls = 0
