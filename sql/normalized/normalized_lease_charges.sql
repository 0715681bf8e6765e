-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Lease charges; lines in normalized_lease_charge_lines.
-- Source: doorloop_raw_lease_charges.
-- requires: normalized_leases, normalized_users
CREATE TABLE IF NOT EXISTS normalized_lease_charges (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    date date NOT NULL,  -- date
    lease_id uuid NOT NULL REFERENCES normalized_leases (id),  -- lease
    reference text,  -- reference
    memo text,  -- memo
    batch text,  -- batch
    total_amount numeric(14, 2),  -- totalAmount
    total_balance numeric(14, 2),  -- totalBalance
    last_late_fees_processed_date date,  -- lastLateFeesProcessedDate
    late_fee_for_lease_charge_id uuid REFERENCES normalized_lease_charges (id) ON DELETE SET NULL,  -- lateFeeForLeaseCharge
    is_files_shared_with_tenant boolean,  -- isFilesSharedWithTenant
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_lease_charges_lease_id_idx ON normalized_lease_charges (lease_id);
CREATE INDEX IF NOT EXISTS normalized_lease_charges_late_fee_for_lease_charge_id_idx ON normalized_lease_charges (late_fee_for_lease_charge_id);
CREATE INDEX IF NOT EXISTS normalized_lease_charges_created_by_id_idx ON normalized_lease_charges (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_charges_updated_by_id_idx ON normalized_lease_charges (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_charges_gone_at_idx ON normalized_lease_charges (id) WHERE gone_at IS NOT NULL;
