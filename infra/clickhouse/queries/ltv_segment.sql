-- ltv_segment: lifetime value by segment: each current tag (customers view) and "untagged".
-- A customer counts in every segment whose tag they carry now; customers = everyone known
-- (tagged or with a purchase), buyers = those with a purchase in the currency;
-- ltv_minor = segment revenue / segment customers (minor units of the currency).
-- @param currency String = '': only this ISO 4217 currency ('' = every currency summed)
WITH revenue AS
(
    SELECT customer, count() AS orders, sum(amount_minor) AS revenue_minor
    FROM
    (
        SELECT order_id, any(customer) AS customer, any(amount_minor) AS amount_minor,
               any(CAST(currency AS String)) AS currency
        FROM purchases
        GROUP BY order_id
    )
    WHERE {currency:String} = '' OR currency = {currency:String}
    GROUP BY customer
),
people AS
(
    SELECT customer, arraySort(arrayDistinct(arrayFlatten(groupArray(tags)))) AS tags
    FROM
    (
        SELECT customer, tags FROM customers
        UNION ALL
        SELECT DISTINCT customer, CAST([] AS Array(String)) AS tags FROM purchases
    )
    GROUP BY customer
)
SELECT
    arrayJoin(if(empty(p.tags), ['untagged'], p.tags)) AS segment,
    count() AS customers,
    countIf(r.orders > 0) AS buyers,
    sum(r.orders) AS orders,
    sum(r.revenue_minor) AS revenue_minor,
    revenue_minor / customers AS ltv_minor
FROM people AS p
LEFT JOIN revenue AS r ON r.customer = p.customer
GROUP BY segment
ORDER BY segment
SETTINGS join_use_nulls = 0
