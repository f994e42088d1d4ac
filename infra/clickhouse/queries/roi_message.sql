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
-- Messages with their last-touch orders: the attributed_messages view (migration 005).
WITH
    arrayFilter(o -> o.delay_ms <= {attribution_window_ms:Int64}
                     AND o.currency = {currency:String},
                m.last_touch_orders) AS credited
SELECT
    m.wamid AS wamid,
    m.campaign_id AS campaign_id,
    m.template_name AS template_name,
    m.sent_ms AS sent_ms,
    m.cost_micros AS cost_micros,
    length(credited) AS attributed_orders,
    arraySum(o -> o.amount_minor, credited) AS revenue_minor,
    intDiv(revenue_minor * 1000000, {minor_units_per_major:UInt32}) AS revenue_micros,
    if(m.cost_micros = 0, NULL, revenue_micros / m.cost_micros) AS roi
FROM attributed_messages AS m
ORDER BY revenue_micros DESC, wamid
LIMIT {limit:UInt32}
