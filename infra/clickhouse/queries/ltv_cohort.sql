-- ltv_cohort: lifetime value by monthly cohort (the month of a customer's first purchase).
-- ltv_minor = cohort revenue / cohort customers, per currency (minor units). A customer's
-- cohort is set by their first order in that currency.
-- @param currency String = '': only this ISO 4217 currency ('' = every currency)
WITH orders AS
(
    SELECT order_id, any(customer) AS customer, any(amount_minor) AS amount_minor,
           any(CAST(currency AS String)) AS currency, min(ts_ms) AS ts_ms
    FROM purchases
    GROUP BY order_id
)
SELECT
    toStartOfMonth(fromUnixTimestamp64Milli(first_ms, 'UTC')) AS cohort_month,
    currency,
    count() AS customers,
    sum(orders) AS orders,
    sum(revenue_minor) AS revenue_minor,
    revenue_minor / customers AS ltv_minor
FROM
(
    SELECT customer, currency, min(ts_ms) AS first_ms, count() AS orders,
           sum(amount_minor) AS revenue_minor
    FROM orders
    WHERE {currency:String} = '' OR currency = {currency:String}
    GROUP BY customer, currency
)
GROUP BY cohort_month, currency
ORDER BY cohort_month, currency
