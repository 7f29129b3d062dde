-- One caller denied on at least 5 distinct roles within a 10-minute bucket.
SELECT caller_arn,
       from_unixtime(floor(to_unixtime(event_time) / 600) * 600) AS window_start,
       count(DISTINCT target_role_arn) AS distinct_roles,
       count(DISTINCT role_account_id) AS distinct_accounts,
       count(*) AS failures
FROM trailtriage_findings
WHERE caller_arn IS NOT NULL AND target_role_arn IS NOT NULL
  AND "date" >= date_format(current_date - interval '7' day, '%Y-%m-%d')
GROUP BY 1, 2
HAVING count(DISTINCT target_role_arn) >= 5
ORDER BY distinct_roles DESC, caller_arn, window_start;
