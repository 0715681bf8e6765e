-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Lines (account, amount, memo) of lease_reversed_payment records.
-- Source: doorloop_raw_lease_reversed_payments lines[].
-- requires: normalized_lease_reversed_payments, normalized_accounts
CREATE TABLE IF NOT EXISTS normalized_lease_reversed_payment_lines (
    lease_reversed_payment_id uuid NOT NULL REFERENCES normalized_lease_reversed_payments (id) ON DELETE CASCADE,
    line_number integer NOT NULL,
    doorloop_line_id text,  -- id
    account_id uuid REFERENCES normalized_accounts (id),  -- account
    amount numeric(14, 2) NOT NULL,  -- amount
    memo text,  -- memo
    balance numeric(14, 2),  -- balance
    PRIMARY KEY (lease_reversed_payment_id, line_number)
);
CREATE INDEX IF NOT EXISTS normalized_lease_reversed_payment_lines_account_id_idx ON normalized_lease_reversed_payment_lines (account_id);
