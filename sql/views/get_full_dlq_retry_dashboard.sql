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
                ELSE '10+' END AS attempt_bucket
    FROM doorloop_error_records
)
SELECT entity,
       stage,
       status,
       attempt_bucket,
       count(*)::bigint AS records,
       count(*) FILTER (WHERE error_class = 'transient')::bigint AS transient_records,
       count(*) FILTER (WHERE error_class = 'permanent')::bigint AS permanent_records,
       count(*) FILTER (WHERE error_class = 'validation')::bigint AS validation_records,
       max(attempts) AS max_attempts,
       min(next_retry_at) AS next_retry_at,
       min(first_seen_at) AS oldest_first_seen_at,
       max(last_seen_at) AS last_seen_at,
       now() - min(first_seen_at) FILTER (WHERE status IN ('open', 'retrying')) AS oldest_open_age,
       max(now() - min(first_seen_at) FILTER (WHERE status IN ('open', 'retrying'))) OVER () AS oldest_open_age_overall
FROM e
GROUP BY entity, stage, status, attempt_bucket;
