-- roi_campaign: cost, attributed revenue and ROI per campaign (ROI = revenue / cost).
-- cost = cost_micros of accepted messages (the sender's estimate, price-table currency).
-- revenue = purchases attributed last touch (as in the funnel query) to the campaign's
-- delivered marketing messages, in `currency`, converted to micros with
-- minor_units_per_major (100 for USD/EUR, 1 for KRW/JPY). Compare like with like: the price
-- table's currency should be `currency`.
-- @param currency String = USD: ISO 4217 currency of the revenue counted
-- @param minor_units_per_major UInt32 = 100: minor units in one major unit of `currency`
-- @param attribution_window_ms Int64 = 604800000: longest wait from delivery to a purchase
-- Messages with their last-touch orders: the attributed_messages view (migration 005).
WITH
    arrayFilter(o -> o.delay_ms <= {attribution_window_ms:Int64}
                     AND o.currency = {currency:String},
                m.last_touch_orders) AS credited
SELECT
    m.campaign_id AS campaign_id,
    count() AS messages,
    sum(m.cost_micros) AS cost_micros,
    sum(length(credited)) AS attributed_orders,
    sum(arraySum(o -> o.amount_minor, credited)) AS revenue_minor,
    intDiv(revenue_minor * 1000000, {minor_units_per_major:UInt32}) AS revenue_micros,
    if(cost_micros = 0, NULL, revenue_micros / cost_micros) AS roi,
    if(messages = 0, NULL, revenue_micros / messages) AS revenue_per_message_micros
FROM attributed_messages AS m
WHERE m.campaign_id != ''
GROUP BY campaign_id
ORDER BY campaign_id
