-- provider_cost: monthly cost of the observed volume under each provider preset.
-- Volume = messages the Cloud API accepted, by send month (UTC). A provider charges its
-- monthly fee plus per_message for every message beyond its free allowance
-- (provider_presets). Every provider also passes on Meta's fees: a delivered (or read)
-- marketing, utility or authentication message is charged at meta_prices for its category
-- and the customer's country (longest calling-code prefix), unless a receipt said
-- pricing.billable = false; the first meta_free_per_month chargeable messages of a month
-- (in send order) are free. Money in micros of the price tables' currency (USD).
-- @param meta_free_per_month Int64 = 1000: Meta's monthly free tier, in messages
-- Messages with their receipt facts: the `messages` view (migration 006).
WITH
    -- Meta's price table as one array (it is small): (category, calling_code, price_micros).
    (
        SELECT groupArray((CAST(category AS String), calling_code, price_micros))
        FROM meta_prices FINAL
    ) AS price_table,
    priced AS
    (
        SELECT
            toStartOfMonth(fromUnixTimestamp64Milli(sent_ms, 'UTC')) AS month,
            wamid,
            sent_ms,
            is_delivered AND NOT marked_free
                AND category IN ('marketing', 'utility', 'authentication') AS chargeable,
            -- The longest calling-code prefix of the customer's number that has a price.
            arraySort(p -> -length(p.2),
                      arrayFilter(p -> p.1 = category AND startsWith(customer, p.2),
                                  price_table)) AS prices,
            chargeable AND notEmpty(prices) AS priced,
            if(priced, prices[1].3, 0) AS price_micros
        FROM messages
    ),
    per_month AS
    (
        SELECT
            month,
            count() AS messages,
            countIf(priced) AS meta_billable,
            countIf(priced AND n > {meta_free_per_month:Int64}) AS meta_charged,
            sumIf(price_micros, priced AND n > {meta_free_per_month:Int64}) AS meta_micros
        FROM
        (
            SELECT month, priced, price_micros,
                   row_number() OVER (PARTITION BY month, priced ORDER BY sent_ms, wamid) AS n
            FROM priced
        )
        GROUP BY month
    )
SELECT
    v.month AS month,
    p.provider AS provider,
    v.messages AS messages,
    p.monthly_fee_micros AS monthly_fee_micros,
    toInt64(greatest(v.messages - p.free_messages_per_month, 0)) * p.per_message_micros
        AS per_message_micros,
    v.meta_billable AS meta_billable,
    v.meta_charged AS meta_charged,
    v.meta_micros AS meta_micros,
    monthly_fee_micros + per_message_micros + meta_micros AS total_micros
FROM per_month AS v
CROSS JOIN (SELECT * FROM provider_presets FINAL) AS p
ORDER BY month, total_micros, provider
