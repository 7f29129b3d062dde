-- Callers whose first failure falls in the last 24 hours before the reference
-- time: the variable as_of if set (SET VARIABLE as_of = TIMESTAMPTZ '...'),
-- else now().
WITH ref AS (SELECT coalesce(getvariable('as_of')::TIMESTAMPTZ, now()) AS t),
first_seen AS (
    SELECT caller_arn, min(event_time) AS first_failure, count(*) AS failures
    FROM findings
    WHERE caller_arn IS NOT NULL
    GROUP BY caller_arn
)
SELECT caller_arn, first_failure, failures
FROM first_seen, ref
WHERE first_failure > ref.t - INTERVAL 1 DAY AND first_failure <= ref.t
ORDER BY first_failure, caller_arn;
