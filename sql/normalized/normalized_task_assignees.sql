-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Users each task is assigned to.
-- Source: doorloop_raw_tasks assignedToUsers[].
-- requires: normalized_tasks, normalized_users
CREATE TABLE IF NOT EXISTS normalized_task_assignees (
    task_id uuid NOT NULL REFERENCES normalized_tasks (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES normalized_users (id),
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX IF NOT EXISTS normalized_task_assignees_user_id_idx ON normalized_task_assignees (user_id);
