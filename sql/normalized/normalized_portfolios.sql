-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Portfolios (DoorLoop property groups).
-- Source: doorloop_raw_portfolios.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_portfolios (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text NOT NULL,  -- name
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_portfolios_created_by_id_idx ON normalized_portfolios (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_portfolios_updated_by_id_idx ON normalized_portfolios (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_portfolios_gone_at_idx ON normalized_portfolios (id) WHERE gone_at IS NOT NULL;
