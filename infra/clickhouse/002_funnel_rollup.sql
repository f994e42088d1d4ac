-- funnel_daily: sent / delivered / read / failed messages by send day × business number ×
-- campaign × template, kept up to date by two materialized views.
--
-- Why uniqExact states of wamids, not counts: an MV sees every inserted row, duplicates
-- included (at-least-once sink), and sees receipts and send results in either order. Each
-- state is the *set* of wamids in that stage, so a duplicate row, or a receipt counted by both
-- views, adds nothing. A read receipt also counts as delivered (Meta may skip "delivered").
--
-- Why two views: a receipt can reach ClickHouse before its send result (separate sink
-- batches). The status view joins receipts to messages already stored; the outbound view
-- joins a new message to receipts already stored. Whichever arrives second fills the funnel.
-- Inside an MV, the source table named in a subquery is the inserted block, so each join
-- reads only the matching rows (through the primary keys: wamid_key / wamid first).

CREATE TABLE IF NOT EXISTS funnel_daily
(
    day Date,
    business_number_id LowCardinality(String),
    campaign_id String,
    template_name String,
    sent AggregateFunction(uniqExact, String),
    delivered AggregateFunction(uniqExact, String),
    read AggregateFunction(uniqExact, String),
    failed AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (day, business_number_id, campaign_id, template_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS funnel_daily_sent_mv TO funnel_daily AS
SELECT
    toDate(o.ts) AS day,
    o.business_number_id AS business_number_id,
    ifNull(o.campaign_id, '') AS campaign_id,
    ifNull(o.template_name, '') AS template_name,
    uniqExactState(o.wamid_key) AS sent,
    uniqExactStateIf(s.wamid, s.status IN ('delivered', 'read')) AS delivered,
    uniqExactStateIf(s.wamid, s.status = 'read') AS read,
    uniqExactStateIf(s.wamid, s.status = 'failed') AS failed
FROM outbound_messages AS o
LEFT JOIN
(
    SELECT wamid, status
    FROM message_status
    WHERE wamid IN (SELECT wamid_key FROM outbound_messages WHERE wamid_key != '')
) AS s ON s.wamid = o.wamid_key
WHERE o.outcome = 'accepted' AND o.wamid_key != ''
GROUP BY day, business_number_id, campaign_id, template_name;

CREATE MATERIALIZED VIEW IF NOT EXISTS funnel_daily_status_mv TO funnel_daily AS
SELECT
    toDate(o.ts) AS day,
    o.business_number_id AS business_number_id,
    ifNull(o.campaign_id, '') AS campaign_id,
    ifNull(o.template_name, '') AS template_name,
    uniqExactState(o.wamid_key) AS sent,
    uniqExactStateIf(s.wamid, s.status IN ('delivered', 'read')) AS delivered,
    uniqExactStateIf(s.wamid, s.status = 'read') AS read,
    uniqExactStateIf(s.wamid, s.status = 'failed') AS failed
FROM message_status AS s
INNER JOIN
(
    SELECT wamid_key, business_number_id, campaign_id, template_name, ts
    FROM outbound_messages
    WHERE outcome = 'accepted' AND wamid_key IN (SELECT wamid FROM message_status)
) AS o ON o.wamid_key = s.wamid
GROUP BY day, business_number_id, campaign_id, template_name;
