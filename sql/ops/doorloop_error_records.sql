-- The dead-letter queue: whatever could not be extracted, validated, normalized or loaded,
-- with its reason. A repeat of the same failure bumps attempts instead of adding a row.
CREATE TABLE IF NOT EXISTS doorloop_error_records (
    id bigserial PRIMARY KEY,  -- row number
    entity text NOT NULL,  -- registry entity of the record
    doorloop_id text NOT NULL DEFAULT '',  -- DoorLoop id of the record; empty when the failure is not one record's (a page, a partition)
    stage text NOT NULL CHECK (stage IN ('extract', 'validate', 'normalize', 'load')),  -- where it failed: extract, validate, normalize or load
    asset_key text NOT NULL,  -- the asset whose run failed on it
    partition_key text,  -- its partition or range; NULL for unpartitioned assets
    payload jsonb,  -- the record as DoorLoop sent it, when there is one
    payload_hash text NOT NULL,  -- hash of the payload: the same failure of the same content is one row
    error_class text NOT NULL CHECK (error_class IN ('transient', 'permanent', 'validation')),  -- transient (retried with backoff), permanent or validation (wait for a fix)
    field text,  -- the field that failed, when one did
    message text NOT NULL,  -- what failed and what was expected
    attempts integer NOT NULL DEFAULT 1,  -- how many times this failure occurred
    next_retry_at timestamptz,  -- when the retry sensor tries it again; NULL: not retried automatically
    status text NOT NULL DEFAULT 'open'  -- open, retrying, resolved, dead (out of attempts) or ignored
        CHECK (status IN ('open', 'retrying', 'resolved', 'dead', 'ignored')),
    first_seen_at timestamptz NOT NULL DEFAULT now(),  -- first occurrence
    last_seen_at timestamptz NOT NULL DEFAULT now(),  -- latest occurrence
    resolved_at timestamptz,  -- when a load of the record succeeded
    run_id text,  -- the run of the latest occurrence
    CONSTRAINT doorloop_error_records_failure_key UNIQUE (entity, doorloop_id, stage, payload_hash)
);
CREATE INDEX IF NOT EXISTS doorloop_error_records_status_idx
    ON doorloop_error_records (status, next_retry_at);
ALTER TABLE doorloop_error_records ADD COLUMN IF NOT EXISTS note text;  -- the operator's note: why a record was ignored, or that a retry was requested by hand
