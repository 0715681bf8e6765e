-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Vendor credits; lines in normalized_vendor_credit_lines.
-- Source: doorloop_raw_vendor_credits.
-- requires: normalized_vendors, normalized_users
CREATE TABLE IF NOT EXISTS normalized_vendor_credits (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    vendor_id uuid REFERENCES normalized_vendors (id),  -- vendor
    date date NOT NULL,  -- date
    due_date date,  -- dueDate
    reference text,  -- reference
    memo text,  -- memo
    batch text,  -- batch
    total_amount numeric(14, 2),  -- totalAmount
    total_balance numeric(14, 2),  -- totalBalance
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_vendor_credits_vendor_id_idx ON normalized_vendor_credits (vendor_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_credits_created_by_id_idx ON normalized_vendor_credits (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_credits_updated_by_id_idx ON normalized_vendor_credits (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_credits_gone_at_idx ON normalized_vendor_credits (id) WHERE gone_at IS NOT NULL;
