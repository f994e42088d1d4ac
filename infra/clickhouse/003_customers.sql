-- customers: each customer's current tags, from the tag_changes log.
-- customer_tag_state keeps, per (customer, tag), the last change by event time; argMax is
-- idempotent, so duplicate tag_changes rows change nothing. Ties on ts_ms break on event_id.

CREATE TABLE IF NOT EXISTS customer_tag_state
(
    customer String,
    tag LowCardinality(String),
    last_change AggregateFunction(argMax, String, Tuple(Int64, String)),
    changed_ms SimpleAggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY (customer, tag);

CREATE MATERIALIZED VIEW IF NOT EXISTS customer_tag_state_mv TO customer_tag_state AS
SELECT
    customer,
    tag,
    argMaxState(CAST(change AS String), (ts_ms, event_id)) AS last_change,
    max(ts_ms) AS changed_ms
FROM tag_changes
GROUP BY customer, tag;

CREATE VIEW IF NOT EXISTS customers AS
SELECT
    customer,
    arraySort(groupArrayIf(tag, change = 'added')) AS tags,
    max(changed_ms) AS tags_changed_ms
FROM
(
    SELECT customer, tag, argMaxMerge(last_change) AS change, max(changed_ms) AS changed_ms
    FROM customer_tag_state
    GROUP BY customer, tag
)
GROUP BY customer;

-- campaigns: one row per campaign seen on campaigns.control.v1, with its segmentation
-- strategy as declared in the launch spec ({"segmentation": "none|frequency|value|heat"}).
CREATE VIEW IF NOT EXISTS campaigns AS
SELECT
    campaign_id,
    argMaxIf(
        JSONExtractString(ifNull(spec_json, '{}'), 'segmentation'), ts_ms, action = 'launch'
    ) AS spec_segmentation,
    minIf(ts_ms, action = 'launch') AS launched_ms,
    argMax(CAST(action AS String), ts_ms) AS last_action
FROM campaign_controls
GROUP BY campaign_id;
