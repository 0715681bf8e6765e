-- One row per asset run (or partition range) with what it saw and changed.
CREATE TABLE IF NOT EXISTS doorloop_pipeline_audit (
    id bigserial PRIMARY KEY,  -- row number
    run_id text NOT NULL,  -- the Dagster run
    asset_key text NOT NULL,  -- the asset
    partition_key text,  -- its partition or range; NULL for unpartitioned assets
    started_at timestamptz NOT NULL,  -- when the asset's step started
    finished_at timestamptz NOT NULL DEFAULT now(),  -- when it finished
    rows_in_table bigint NOT NULL DEFAULT 0,  -- rows in the asset's table after the run
    rows_listed bigint NOT NULL DEFAULT 0,  -- records read (from DoorLoop for raw assets, candidates for normalized ones)
    api_total bigint,  -- the total DoorLoop reported for the listing
    inserted bigint NOT NULL DEFAULT 0,  -- rows inserted
    updated bigint NOT NULL DEFAULT 0,  -- rows whose content changed
    unchanged bigint NOT NULL DEFAULT 0,  -- rows read that changed nothing
    soft_deleted bigint NOT NULL DEFAULT 0,  -- rows marked deleted (gone from DoorLoop)
    rejected bigint NOT NULL DEFAULT 0,  -- records sent to the dead-letter queue
    duplicates bigint NOT NULL DEFAULT 0,  -- records listed more than once in the same listing
    api_requests integer NOT NULL DEFAULT 0,  -- DoorLoop requests made
    api_retries integer NOT NULL DEFAULT 0,  -- requests retried (429, 5xx, timeouts)
    seconds numeric(12, 3) NOT NULL DEFAULT 0  -- duration of the step
);
CREATE INDEX IF NOT EXISTS doorloop_pipeline_audit_asset_idx
    ON doorloop_pipeline_audit (asset_key, finished_at);
ALTER TABLE doorloop_pipeline_audit ADD COLUMN IF NOT EXISTS touched_from date;  -- the earliest business date a raw load inserted, changed or soft-deleted (NULL: it changed nothing): KPI snapshots from that date to today are stale until recomputed
