-- ltv_customer: lifetime value per customer: orders, revenue, first and last purchase.
-- Each order counts once (order_id is the idempotency key). Money stays in the purchase's
-- currency (minor units); a customer who paid in two currencies has two rows.
-- @param currency String = '': only this ISO 4217 currency ('' = every currency)
-- @param limit UInt32 = 100: at most this many customers, highest revenue first
SELECT
    customer,
    currency,
    count() AS orders,
    sum(amount_minor) AS revenue_minor,
    min(ts_ms) AS first_purchase_ms,
    max(ts_ms) AS last_purchase_ms
FROM
(
    SELECT order_id, any(customer) AS customer, any(amount_minor) AS amount_minor,
           any(CAST(currency AS String)) AS currency, min(ts_ms) AS ts_ms
    FROM purchases
    GROUP BY order_id
)
WHERE {currency:String} = '' OR currency = {currency:String}
GROUP BY customer, currency
ORDER BY revenue_minor DESC, customer, currency
LIMIT {limit:UInt32}
