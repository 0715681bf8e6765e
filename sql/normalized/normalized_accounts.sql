-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Chart of accounts.
-- Source: doorloop_raw_accounts.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_accounts (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text NOT NULL,  -- name
    active boolean,  -- active
    type text,  -- type
    class text,  -- class
    description text,  -- description
    parent_account_id uuid REFERENCES normalized_accounts (id) ON DELETE SET NULL,  -- parentAccount
    fully_qualified_name text,  -- fullyQualifiedName
    system_account boolean,  -- systemAccount
    cash_flow_activity text,  -- cashFlowActivity
    lease_charge_item boolean,  -- leaseChargeItem
    lease_deposit_item boolean,  -- leaseDepositItem
    taxable boolean,  -- taxable
    default_account_for jsonb,  -- defaultAccountFor
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_accounts_parent_account_id_idx ON normalized_accounts (parent_account_id);
CREATE INDEX IF NOT EXISTS normalized_accounts_created_by_id_idx ON normalized_accounts (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_accounts_updated_by_id_idx ON normalized_accounts (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_accounts_gone_at_idx ON normalized_accounts (id) WHERE gone_at IS NOT NULL;
