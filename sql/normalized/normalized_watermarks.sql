-- How far each normalized table has read its raw table: raw rows changed at or after
-- `changed_since` are re-read on the next run (plus any raw row not yet in the table,
-- such as one waiting in the DLQ for a missing parent). `changed_since` is never later
-- than the start of a transaction that was still open when the run read raw, so a raw
-- load committing late is not skipped.
CREATE TABLE IF NOT EXISTS normalized_watermarks (
    table_name text PRIMARY KEY,
    changed_since timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text
);
