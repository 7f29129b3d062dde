-- Callers whose first failure (in the last 90 days of data) is within the last 24 hours.
WITH first_seen AS (
    SELECT caller_arn, min(event_time) AS first_failure, count(*) AS failures
    FROM trailtriage_findings
    WHERE caller_arn IS NOT NULL
      AND "date" >= date_format(current_date - interval '90' day, '%Y-%m-%d')
    GROUP BY caller_arn
)
SELECT caller_arn, first_failure, failures
FROM first_seen
WHERE first_failure > current_timestamp - interval '1' day
ORDER BY first_failure, caller_arn;
