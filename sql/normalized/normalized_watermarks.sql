-- Hand-written: not generated from altus_pipeline/normalized/spec.py.
-- How far each normalized table has read its raw table: raw rows changed at or after
-- `changed_since` are re-read on the next run (plus any raw row not yet in the table,
-- such as one waiting in the DLQ for a missing parent). `changed_since` is never later
-- than the start of a transaction that was still open when the run read raw, so a raw
-- load committing late is not skipped.
CREATE TABLE IF NOT EXISTS normalized_watermarks (
    table_name text PRIMARY KEY,  -- the normalized table
    changed_since timestamptz NOT NULL,  -- raw rows changed at or after this are re-read on its next run
    updated_at timestamptz NOT NULL DEFAULT now(),  -- when the watermark last moved
    last_run_id text  -- the run that moved it
);
