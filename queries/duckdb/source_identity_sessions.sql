-- Failures that carry a SourceIdentity (requested or inherited): who was behind them.
SELECT coalesce(source_identity, inherited_source_identity) AS source_identity,
       caller_arn,
       target_role_arn,
       cause_id,
       count(*) AS failures
FROM findings
WHERE source_identity IS NOT NULL OR inherited_source_identity IS NOT NULL
GROUP BY ALL
ORDER BY failures DESC, source_identity, caller_arn, target_role_arn, cause_id;
