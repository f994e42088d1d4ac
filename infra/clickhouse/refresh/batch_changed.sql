-- The customers to re-attribute in one run: those named by an event stored in either window
-- (changed_ms in (after_ms, until_ms] or in (settle_from_ms, settle_to_ms]), and the
-- customers of the messages a receipt in those windows names.
INSERT INTO attribution_batch (run_id, customer)
SELECT DISTINCT {run_id:UInt64}, customer
FROM
(
    SELECT customer
    FROM attribution_dirty
    WHERE customer != ''
      AND ((changed_ms > {after_ms:Int64} AND changed_ms <= {until_ms:Int64})
           OR (changed_ms > {settle_from_ms:Int64} AND changed_ms <= {settle_to_ms:Int64}))
    UNION ALL
    SELECT customer
    FROM message_facts
    WHERE wamid IN
          (
              SELECT wamid
              FROM attribution_dirty
              WHERE wamid != ''
                AND ((changed_ms > {after_ms:Int64} AND changed_ms <= {until_ms:Int64})
                     OR (changed_ms > {settle_from_ms:Int64}
                         AND changed_ms <= {settle_to_ms:Int64}))
          )
      AND customer != ''
)
