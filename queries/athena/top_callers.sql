SELECT coalesce(caller_arn, '(' || caller_type || ')') AS caller,
       count(*) AS failures,
       count(DISTINCT target_role_arn) AS distinct_roles,
       array_join(array_sort(array_distinct(array_agg(cause_id))), ',') AS causes
FROM trailtriage_findings
WHERE "date" >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY 1
ORDER BY failures DESC, caller
LIMIT 20;
