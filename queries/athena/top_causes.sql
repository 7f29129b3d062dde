SELECT cause_id,
       count(*) AS failures,
       count_if(confidence = 'certain')  AS certain,
       count_if(confidence = 'likely')   AS likely,
       count_if(confidence = 'possible') AS possible,
       count_if(severity = 'high')       AS high
FROM trailtriage_findings
WHERE "date" >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY cause_id
ORDER BY failures DESC, cause_id;
