-- Recount every funnel group that holds a message the run rewrote (facts_version), from the
-- merged facts of all its messages.
INSERT INTO funnel_counts
    (campaign_id, template_name, business_number_id, sent_day, sent, delivered, read, failed,
     version)
SELECT
    campaign_id,
    template_name,
    business_number_id,
    sent_day,
    count(),
    countIf(is_delivered),
    countIf(is_read),
    countIf(is_failed),
    {version:UInt64}
FROM attributed_facts FINAL
WHERE (campaign_id, template_name, business_number_id, sent_day) IN
      (
          SELECT DISTINCT campaign_id, template_name, business_number_id, sent_day
          FROM attributed_facts
          WHERE version = {facts_version:UInt64}
      )
GROUP BY campaign_id, template_name, business_number_id, sent_day
