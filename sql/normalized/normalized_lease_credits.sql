-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Lease credits; lines in normalized_lease_credit_lines.
-- Source: doorloop_raw_lease_credits.
-- requires: normalized_leases, normalized_users
CREATE TABLE IF NOT EXISTS normalized_lease_credits (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    date date NOT NULL,  -- date
    lease_id uuid NOT NULL REFERENCES normalized_leases (id),  -- lease
    reference text,  -- reference
    memo text,  -- memo
    batch text,  -- batch
    total_amount numeric(14, 2),  -- totalAmount
    total_balance numeric(14, 2),  -- totalBalance
    is_files_shared_with_tenant boolean,  -- isFilesSharedWithTenant
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_lease_credits_lease_id_idx ON normalized_lease_credits (lease_id);
CREATE INDEX IF NOT EXISTS normalized_lease_credits_created_by_id_idx ON normalized_lease_credits (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_credits_updated_by_id_idx ON normalized_lease_credits (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_credits_gone_at_idx ON normalized_lease_credits (id) WHERE gone_at IS NOT NULL;
