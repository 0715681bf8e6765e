-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Vendor bills; lines in normalized_vendor_bill_lines. work_order_task_id is the work order's task.
-- Source: doorloop_raw_vendor_bills.
-- requires: normalized_vendors, normalized_tasks, normalized_users
CREATE TABLE IF NOT EXISTS normalized_vendor_bills (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    vendor_id uuid REFERENCES normalized_vendors (id),  -- vendor
    date date NOT NULL,  -- date
    due_date date,  -- dueDate
    work_order_task_id uuid REFERENCES normalized_tasks (id),  -- workOrder
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
CREATE INDEX IF NOT EXISTS normalized_vendor_bills_vendor_id_idx ON normalized_vendor_bills (vendor_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_bills_work_order_task_id_idx ON normalized_vendor_bills (work_order_task_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_bills_created_by_id_idx ON normalized_vendor_bills (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_bills_updated_by_id_idx ON normalized_vendor_bills (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_vendor_bills_gone_at_idx ON normalized_vendor_bills (id) WHERE gone_at IS NOT NULL;
