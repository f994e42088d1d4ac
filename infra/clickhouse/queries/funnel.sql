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
-- Every message with its reply and last-touch facts: the attributed_messages view (migration
-- 005), where attribution is defined once for all queries.
SELECT
    multiIf(
        {grain:String} = 'campaign', m.campaign_id,
        {grain:String} = 'template', m.template_name,
        {grain:String} = 'day', toString(toDate(fromUnixTimestamp64Milli(m.sent_ms, 'UTC'))),
        m.business_number_id
    ) AS key,
    count() AS sent,
    countIf(m.is_delivered) AS delivered,
    countIf(m.is_read) AS read,
    countIf(m.reply_delay_ms <= {reply_window_ms:Int64}) AS replied,
    countIf(m.is_delivered AND m.category = 'marketing') AS delivered_marketing,
    countIf(arrayExists(o -> o.delay_ms <= {attribution_window_ms:Int64}, m.last_touch_orders))
        AS converted,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate,
    if(delivered = 0, NULL, replied / delivered) AS reply_rate,
    if(delivered_marketing = 0, NULL, converted / delivered_marketing) AS conversion_rate
FROM attributed_messages AS m
WHERE m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
GROUP BY key
ORDER BY key
