-- alarms: alarm history, each firing or resolution once, newest first.
-- firing_for_ms on a resolution is how long the alarm had been firing (since the previous
-- firing event of the same alarm_id); NULL on firing events.
-- @param from_ms Int64 = 0: events at or after this time (Unix ms)
-- @param to_ms Int64 = 4102444800000: events before this time (Unix ms)
-- @param kind String = '': only this kind, e.g. reply_rate ('' = every kind)
-- @param limit UInt32 = 500: at most this many events
SELECT
    ts_ms,
    alarm_id,
    kind,
    scope,
    state,
    value,
    threshold,
    sample,
    priority,
    detail,
    if(state = 'resolved' AND previous_state = 'firing', ts_ms - previous_ms, NULL)
        AS firing_for_ms
FROM
(
    SELECT
        *,
        lagInFrame(state, 1, '') OVER w AS previous_state,
        lagInFrame(ts_ms, 1, 0) OVER w AS previous_ms
    FROM
    (
        SELECT alarm_id, CAST(state AS String) AS state, ts_ms,
               any(CAST(kind AS String)) AS kind, any(scope) AS scope, any(value) AS value,
               any(threshold) AS threshold, any(sample) AS sample, any(priority) AS priority,
               any(detail) AS detail
        FROM alarms
        GROUP BY alarm_id, state, ts_ms
    )
    WINDOW w AS (PARTITION BY alarm_id ORDER BY ts_ms, state ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
WHERE ts_ms >= {from_ms:Int64} AND ts_ms < {to_ms:Int64} AND ({kind:String} = '' OR kind = {kind:String})
ORDER BY ts_ms DESC, alarm_id, state
LIMIT {limit:UInt32}
