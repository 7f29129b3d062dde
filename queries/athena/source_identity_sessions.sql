SELECT coalesce(source_identity, inherited_source_identity) AS source_identity,
       caller_arn, target_role_arn, cause_id, count(*) AS failures
FROM trailtriage_findings
WHERE (source_identity IS NOT NULL OR inherited_source_identity IS NOT NULL)
  AND "date" >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY 1, 2, 3, 4
ORDER BY failures DESC, 1, 2, 3, 4;
