-- The dead-letter queue: whatever could not be extracted, validated, normalized or loaded,
-- with its reason. A repeat of the same failure bumps attempts instead of adding a row.
CREATE TABLE IF NOT EXISTS doorloop_error_records (
    id bigserial PRIMARY KEY,
    entity text NOT NULL,
    doorloop_id text NOT NULL DEFAULT '',
    stage text NOT NULL CHECK (stage IN ('extract', 'validate', 'normalize', 'load')),
    asset_key text NOT NULL,
    partition_key text,
    payload jsonb,
    payload_hash text NOT NULL,
    error_class text NOT NULL CHECK (error_class IN ('transient', 'permanent', 'validation')),
    field text,
    message text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    next_retry_at timestamptz,
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'retrying', 'resolved', 'dead', 'ignored')),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    run_id text,
    CONSTRAINT doorloop_error_records_failure_key UNIQUE (entity, doorloop_id, stage, payload_hash)
);
CREATE INDEX IF NOT EXISTS doorloop_error_records_status_idx
    ON doorloop_error_records (status, next_retry_at);
-- The operator's note: why a record was ignored, or that a retry was requested by hand.
ALTER TABLE doorloop_error_records ADD COLUMN IF NOT EXISTS note text;
