-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Lease payments; check and e-pay details (bank, card) are not copied. A reversal links to its payment in normalized_lease_reversed_payments.
-- Source: doorloop_raw_lease_payments.
-- requires: normalized_leases, normalized_accounts, normalized_tenants, normalized_users
CREATE TABLE IF NOT EXISTS normalized_lease_payments (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    date date NOT NULL,  -- date
    lease_id uuid NOT NULL REFERENCES normalized_leases (id),  -- lease
    amount_received numeric(14, 2) NOT NULL,  -- amountReceived
    payment_method text CHECK (payment_method IN ('CASH', 'CHECK', 'WIRE', 'CREDIT_CARD', 'CASHIERS_CHECK', 'MONEY_ORDER', 'OTHER', 'EPAY')),  -- paymentMethod
    deposit_to_account_id uuid REFERENCES normalized_accounts (id),  -- depositToAccount
    received_from_tenant_id uuid REFERENCES normalized_tenants (id),  -- receivedFromTenant
    auto_apply_payment_on_charges boolean,  -- autoApplyPaymentOnCharges
    reference text,  -- reference
    auto_deposit boolean,  -- autoDeposit
    deposit_status text CHECK (deposit_status IN ('DEPOSITED', 'UNDEPOSITED')),  -- depositStatus
    memo text,  -- memo
    amount_applied_to_charges numeric(14, 2),  -- amountAppliedToCharges
    amount_applied_to_credits numeric(14, 2),  -- amountAppliedToCredits
    amount_not_applied_to_charges numeric(14, 2),  -- amountNotAppliedToCharges
    linked_charges jsonb,  -- linkedCharges
    linked_credits jsonb,  -- linkedCredits
    reversed_payment_date date,  -- reversedPaymentDate
    reversed_payment_memo text,  -- reversedPaymentMemo
    is_files_shared_with_tenant boolean,  -- isFilesSharedWithTenant
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_lease_id_idx ON normalized_lease_payments (lease_id);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_deposit_to_account_id_idx ON normalized_lease_payments (deposit_to_account_id);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_received_from_tenant_id_idx ON normalized_lease_payments (received_from_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_created_by_id_idx ON normalized_lease_payments (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_updated_by_id_idx ON normalized_lease_payments (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_lease_payments_gone_at_idx ON normalized_lease_payments (id) WHERE gone_at IS NOT NULL;
