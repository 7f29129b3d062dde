-- Callers with the most failed role assumptions, the roles they tried and their causes.
SELECT coalesce(caller_arn, '(' || caller_type || ')') AS caller,
       count(*)                                         AS failures,
       count(DISTINCT target_role_arn)                  AS distinct_roles,
       string_agg(DISTINCT cause_id, ',' ORDER BY cause_id) AS causes
FROM findings
GROUP BY caller
ORDER BY failures DESC, caller
LIMIT 20;
