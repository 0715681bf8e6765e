-- One row per asset run (or partition range) with what it saw and changed.
CREATE TABLE IF NOT EXISTS doorloop_pipeline_audit (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    asset_key text NOT NULL,
    partition_key text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    rows_in_table bigint NOT NULL DEFAULT 0,
    rows_listed bigint NOT NULL DEFAULT 0,
    api_total bigint,
    inserted bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    soft_deleted bigint NOT NULL DEFAULT 0,
    rejected bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    api_requests integer NOT NULL DEFAULT 0,
    api_retries integer NOT NULL DEFAULT 0,
    seconds numeric(12, 3) NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS doorloop_pipeline_audit_asset_idx
    ON doorloop_pipeline_audit (asset_key, finished_at);
-- The earliest business date a raw load inserted, changed or soft-deleted (NULL: it changed
-- nothing): KPI snapshots from that date to today are stale until recomputed.
ALTER TABLE doorloop_pipeline_audit ADD COLUMN IF NOT EXISTS touched_from date;
