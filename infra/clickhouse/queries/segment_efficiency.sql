-- segment_efficiency: open rate, conversion lift and cost per conversion by segmentation.
-- A campaign's strategy is `segmentation` in its launch spec on campaigns.control.v1
-- ({"segmentation": "none|frequency|value|heat"}); without one, the campaign_id prefix before
-- the first ':' when it is one of those words ("heat:spring-sale"); else "unknown".
-- Per strategy, over delivered marketing messages of campaigns: open_rate = read/delivered;
-- conversion_rate = converted/delivered (last touch, as in the funnel query);
-- lift = conversion_rate / conversion_rate of "none" - 1 (NULL without a baseline);
-- cost_per_conversion_micros = cost of accepted messages / converted messages.
-- @param from_ms Int64 = 0: campaign messages sent at or after this time (Unix ms)
-- @param to_ms Int64 = 4102444800000: campaign messages sent before this time (Unix ms)
-- @param attribution_window_ms Int64 = 604800000: longest wait from delivery to a purchase
-- Messages with their last-touch orders: the attributed_messages view (migration 005).
WITH
    per_campaign AS
    (
        SELECT
            m.campaign_id AS campaign_id,
            countIf(m.category = 'marketing' AND m.is_delivered) AS delivered,
            countIf(m.category = 'marketing' AND m.is_read) AS read,
            countIf(arrayExists(o -> o.delay_ms <= {attribution_window_ms:Int64},
                                m.last_touch_orders)) AS converted,
            sum(m.cost_micros) AS cost_micros
        FROM attributed_messages AS m
        WHERE m.campaign_id != '' AND m.sent_ms >= {from_ms:Int64} AND m.sent_ms < {to_ms:Int64}
        GROUP BY campaign_id
    ),
    per_strategy AS
    (
        SELECT
            multiIf(
                s.spec_segmentation IN ('none', 'frequency', 'value', 'heat'), s.spec_segmentation,
                splitByChar(':', c.campaign_id)[1] IN ('none', 'frequency', 'value', 'heat')
                    AND position(c.campaign_id, ':') > 0,
                splitByChar(':', c.campaign_id)[1],
                'unknown'
            ) AS strategy,
            count() AS campaigns,
            sum(c.delivered) AS delivered,
            sum(c.read) AS read,
            sum(c.converted) AS converted,
            sum(c.cost_micros) AS cost_micros
        FROM per_campaign AS c
        LEFT JOIN campaigns AS s ON s.campaign_id = c.campaign_id
        GROUP BY strategy
        SETTINGS join_use_nulls = 0
    )
SELECT
    strategy,
    campaigns,
    delivered,
    read,
    converted,
    cost_micros,
    if(delivered = 0, NULL, read / delivered) AS open_rate,
    if(delivered = 0, NULL, converted / delivered) AS conversion_rate,
    -- The baseline is the "none" row, found with a window so per_strategy is computed once.
    anyIf(conversion_rate, strategy = 'none') OVER () AS baseline_rate,
    if(baseline_rate IS NULL OR baseline_rate = 0 OR conversion_rate IS NULL, NULL,
       conversion_rate / baseline_rate - 1) AS conversion_lift,
    if(converted = 0, NULL, cost_micros / converted) AS cost_per_conversion_micros
FROM per_strategy
ORDER BY indexOf(['none', 'frequency', 'value', 'heat', 'unknown'], strategy)
