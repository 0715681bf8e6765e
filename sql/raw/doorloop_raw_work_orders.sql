-- Work orders are tasks of type WORK_ORDER: DoorLoop has no work-order endpoint.
CREATE OR REPLACE VIEW doorloop_raw_work_orders AS
SELECT id, payload, content_hash, first_seen_at, last_changed_at, deleted_at, last_run_id
FROM doorloop_raw_tasks
WHERE payload ->> 'type' = 'WORK_ORDER';
