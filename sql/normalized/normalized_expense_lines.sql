-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Lines (account, amount, memo) of expense records.
-- Source: doorloop_raw_expenses lines[].
-- requires: normalized_expenses, normalized_accounts, normalized_properties
CREATE TABLE IF NOT EXISTS normalized_expense_lines (
    expense_id uuid NOT NULL REFERENCES normalized_expenses (id) ON DELETE CASCADE,
    line_number integer NOT NULL,
    doorloop_line_id text,  -- id
    account_id uuid REFERENCES normalized_accounts (id),  -- account
    amount numeric(14, 2) NOT NULL,  -- amount
    memo text,  -- memo
    balance numeric(14, 2),  -- balance
    property_id uuid REFERENCES normalized_properties (id),  -- linkedToResourceId
    linked_to_resource_type text,  -- linkedToResourceType
    PRIMARY KEY (expense_id, line_number)
);
CREATE INDEX IF NOT EXISTS normalized_expense_lines_account_id_idx ON normalized_expense_lines (account_id);
CREATE INDEX IF NOT EXISTS normalized_expense_lines_property_id_idx ON normalized_expense_lines (property_id);
