-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Expenses; check and e-pay details are not copied; lines in normalized_expense_lines.
-- Source: doorloop_raw_expenses.
-- requires: normalized_accounts, normalized_vendors, normalized_owners, normalized_tenants, normalized_users
CREATE TABLE IF NOT EXISTS normalized_expenses (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    date date NOT NULL,  -- date
    pay_from_account_id uuid REFERENCES normalized_accounts (id),  -- payFromAccount
    payment_method text CHECK (payment_method IN ('CASH', 'CHECK', 'WIRE', 'CREDIT_CARD', 'CASHIERS_CHECK', 'MONEY_ORDER', 'OTHER', 'EPAY')),  -- paymentMethod
    pay_to_resource_type text,  -- payToResourceType
    pay_to_resource_doorloop_id text,  -- payToResourceId
    pay_to_vendor_id uuid REFERENCES normalized_vendors (id),  -- payToResourceId when payToResourceType = VENDOR
    pay_to_owner_id uuid REFERENCES normalized_owners (id),  -- payToResourceId when payToResourceType = OWNER
    pay_to_tenant_id uuid REFERENCES normalized_tenants (id),  -- payToResourceId when payToResourceType = TENANT
    memo text,  -- memo
    reference text,  -- reference
    batch text,  -- batch
    total_amount numeric(14, 2),  -- totalAmount
    total_balance numeric(14, 2),  -- totalBalance
    is_voided_check boolean,  -- isVoidedCheck
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_expenses_pay_from_account_id_idx ON normalized_expenses (pay_from_account_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_pay_to_vendor_id_idx ON normalized_expenses (pay_to_vendor_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_pay_to_owner_id_idx ON normalized_expenses (pay_to_owner_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_pay_to_tenant_id_idx ON normalized_expenses (pay_to_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_created_by_id_idx ON normalized_expenses (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_updated_by_id_idx ON normalized_expenses (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_expenses_gone_at_idx ON normalized_expenses (id) WHERE gone_at IS NOT NULL;
