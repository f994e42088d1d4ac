-- funnel_rollup: sent → delivered → read (and failed) from the per-message facts: fast.
-- Reads the `messages` view over message_facts (migration 006), which materialized views keep
-- at one row per message (no replies or conversions: those need the funnel query). Days are
-- send days (UTC); a read without a delivered receipt counts as delivered; duplicates never
-- count twice (facts merge per wamid).
-- @param grain String = campaign: one of campaign|template|day|business_number
-- @param from_day Date = 1970-01-01: first send day reported
-- @param to_day Date = 2099-12-31: last send day reported
SELECT
    multiIf(
        {grain:String} = 'campaign', campaign_id,
        {grain:String} = 'template', template_name,
        {grain:String} = 'day', toString(day),
        business_number_id
    ) AS key,
    count() AS sent,
    countIf(is_delivered) AS delivered,
    countIf(is_read) AS read,
    countIf(is_failed) AS failed,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate
FROM
(
    SELECT *, toDate(fromUnixTimestamp64Milli(sent_ms, 'UTC')) AS day
    FROM messages
)
WHERE day >= {from_day:Date} AND day <= {to_day:Date}
GROUP BY key
ORDER BY key
