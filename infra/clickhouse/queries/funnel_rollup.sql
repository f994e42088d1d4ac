-- funnel_rollup: sent → delivered → read (and failed) from the pre-counted funnel groups: fast.
-- Reads funnel_counts (migration 007): messages per send day × business number × campaign ×
-- template, recounted by the attribution refresh job from the merged per-message facts (no
-- replies or conversions: those need the funnel query). Counts are as of the job's last run.
-- Days are send days (UTC); a read without a delivered receipt counts as delivered;
-- duplicates never count twice (facts merge per wamid).
-- @param grain String = campaign: one of campaign|template|day|business_number
-- @param from_day Date = 1970-01-01: first send day reported
-- @param to_day Date = 2099-12-31: last send day reported
SELECT
    multiIf(
        {grain:String} = 'campaign', campaign,
        {grain:String} = 'template', template,
        {grain:String} = 'day', toString(day),
        business_number
    ) AS key,
    sum(sent_messages) AS sent,
    sum(delivered_messages) AS delivered,
    sum(read_messages) AS read,
    sum(failed_messages) AS failed,
    if(sent = 0, NULL, delivered / sent) AS delivery_rate,
    if(delivered = 0, NULL, read / delivered) AS read_rate
FROM
(
    SELECT CAST(campaign_id AS String) AS campaign, CAST(template_name AS String) AS template,
           CAST(business_number_id AS String) AS business_number, sent_day AS day,
           sent AS sent_messages, delivered AS delivered_messages, read AS read_messages,
           failed AS failed_messages
    FROM funnel_counts FINAL
    WHERE day >= {from_day:Date} AND day <= {to_day:Date}
)
GROUP BY key
ORDER BY key
