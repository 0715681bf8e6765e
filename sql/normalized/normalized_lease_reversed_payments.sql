-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Reversed (returned) lease payments; lines in normalized_lease_reversed_payment_lines.
-- Source: doorloop_raw_lease_reversed_payments.
-- requires: normalized_leases, normalized_lease_payments, normalized_users
CREATE TABLE IF NOT EXISTS normalized_lease_reversed_payments (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    date date NOT NULL,  -- date
    lease_id uuid NOT NULL REFERENCES normalized_leases (id),  -- lease
    reference text,  -- reference
    memo text,  -- memo
    batch text,  -- batch
    total_amount numeric(14, 2),  -- totalAmount
    total_balance numeric(14, 2),  -- totalBalance
    lease_payment_id uuid REFERENCES normalized_lease_payments (id),  -- leasePayment
    deposit_status text CHECK (deposit_status IN ('DEPOSITED', 'UNDEPOSITED')),  -- depositStatus
    processor_fee numeric(14, 2),  -- processorFee
    reason text,  -- reason
    is_files_shared_with_tenant boolean,  -- isFilesSharedWithTenant
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payments_lease_id_idx ON normalized_lease_reversed_payments (lease_id);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payments_lease_payment_id_idx ON normalized_lease_reversed_payments (lease_payment_id);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payments_created_by_id_idx ON normalized_lease_reversed_payments (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payments_updated_by_id_idx ON normalized_lease_reversed_payments (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payments_gone_at_idx ON normalized_lease_reversed_payments (id) WHERE gone_at IS NOT NULL;
