-- funnel_rollup: sent → delivered → read (and failed) from the funnel_daily rollup: fast.
-- Reads the materialized rollup (no replies or conversions: those need the raw tables, see
-- the funnel query). Days are send days (UTC); a read without a delivered receipt counts as
-- delivered; duplicates never count twice (the rollup keeps sets of wamids).
-- @param grain String = campaign: one of campaign|template|day|business_number
-- @param from_day Date = 1970-01-01: first send day reported
-- @param to_day Date = 2099-12-31: last send day reported
SELECT
    multiIf(
        {grain:String} = 'campaign', campaign_id,
        {grain:String} = 'template', template_name,
        {grain:String} = 'day', toString(day),
        CAST(business_number_id AS String)
    ) AS key,
    uniqExactMerge(sent) AS sent,
    uniqExactMerge(delivered) AS delivered,
    uniqExactMerge(read) AS read,
    uniqExactMerge(failed) AS failed,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate
FROM funnel_daily
WHERE day >= {from_day:Date} AND day <= {to_day:Date}
GROUP BY key
ORDER BY key
