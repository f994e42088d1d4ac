-- Every customer with a message: a full rebuild (first run, or the change log expired).
INSERT INTO attribution_batch (run_id, customer)
SELECT DISTINCT {run_id:UInt64}, customer
FROM customer_messages
