-- Failures per cause, with confidence and severity breakdown, most frequent first.
SELECT cause_id,
       count(*)                                   AS failures,
       count(*) FILTER (WHERE confidence = 'certain')  AS certain,
       count(*) FILTER (WHERE confidence = 'likely')   AS likely,
       count(*) FILTER (WHERE confidence = 'possible') AS possible,
       count(*) FILTER (WHERE severity = 'high')       AS high
FROM findings
GROUP BY cause_id
ORDER BY failures DESC, cause_id;
