-- Role enumeration: one caller denied on many distinct roles within 10 minutes.
-- A burst is reported once per caller and 10-minute bucket with at least 5 distinct roles.
SELECT caller_arn,
       time_bucket(INTERVAL 10 MINUTE, event_time) AS window_start,
       count(DISTINCT target_role_arn)             AS distinct_roles,
       count(DISTINCT role_account_id)             AS distinct_accounts,
       count(*)                                    AS failures
FROM findings
WHERE caller_arn IS NOT NULL AND target_role_arn IS NOT NULL
GROUP BY caller_arn, window_start
HAVING count(DISTINCT target_role_arn) >= 5
ORDER BY distinct_roles DESC, caller_arn, window_start;
