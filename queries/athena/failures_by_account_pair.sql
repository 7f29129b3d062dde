SELECT coalesce(caller_account_id, '?') AS caller_account,
       coalesce(role_account_id, '?')   AS role_account,
       cross_account,
       count(*) AS failures
FROM trailtriage_findings
WHERE "date" >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY 1, 2, 3
ORDER BY failures DESC, caller_account, role_account;
