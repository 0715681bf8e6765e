-- The dead-letter queue at a glance: records by entity, stage, status and attempt bucket,
-- when the group's next retry is due, and the age of the oldest unresolved (open or
-- retrying) record, per group and overall. A plain view, not a materialized one: the
-- ages are always current and the table is small.
CREATE OR REPLACE VIEW get_full_dlq_retry_dashboard AS
WITH e AS (
    SELECT entity, stage, status, error_class, attempts, first_seen_at, last_seen_at, next_retry_at,
           CASE WHEN attempts <= 1 THEN '1'
                WHEN attempts = 2 THEN '2'
                WHEN attempts <= 4 THEN '3-4'
                WHEN attempts <= 9 THEN '5-9'
                ELSE '10+' END AS attempt_bucket  -- attempts so far, bucketed: 1, 2, 3-4, 5-9, 10+
    FROM doorloop_error_records
)
SELECT entity,
       stage,
       status,
       attempt_bucket,
       count(*)::bigint AS records,  -- records in the group
       count(*) FILTER (WHERE error_class = 'transient')::bigint AS transient_records,  -- of them, transient failures (retried with backoff)
       count(*) FILTER (WHERE error_class = 'permanent')::bigint AS permanent_records,  -- of them, permanent failures (401, 405: wait for a fix)
       count(*) FILTER (WHERE error_class = 'validation')::bigint AS validation_records,  -- of them, records that failed validation
       max(attempts) AS max_attempts,  -- the most attempts of a record in the group
       min(next_retry_at) AS next_retry_at,  -- when the group's next retry is due
       min(first_seen_at) AS oldest_first_seen_at,  -- first occurrence of the group's oldest record
       max(last_seen_at) AS last_seen_at,  -- the group's latest occurrence
       now() - min(first_seen_at) FILTER (WHERE status IN ('open', 'retrying')) AS oldest_open_age,  -- age of the group's oldest open or retrying record
       max(now() - min(first_seen_at) FILTER (WHERE status IN ('open', 'retrying'))) OVER () AS oldest_open_age_overall  -- age of the oldest open or retrying record of all
FROM e
GROUP BY entity, stage, status, attempt_bucket;
