-- Failures by caller account and role account (cross-account pairs first).
SELECT coalesce(caller_account_id, '?') AS caller_account,
       coalesce(role_account_id, '?')   AS role_account,
       cross_account,
       count(*)                          AS failures
FROM findings
GROUP BY ALL
ORDER BY failures DESC, caller_account, role_account;
