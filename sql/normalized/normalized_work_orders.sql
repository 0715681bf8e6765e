-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Work orders: tasks of type WORK_ORDER with vendor, owner approval, instructions and linked bill.
-- Source: doorloop_raw_tasks where r.payload ->> 'type' = 'WORK_ORDER'.
-- requires: normalized_tasks, normalized_vendors, normalized_vendor_bills
CREATE TABLE IF NOT EXISTS normalized_work_orders (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    task_id uuid NOT NULL REFERENCES normalized_tasks (id),  -- id
    vendor_id uuid REFERENCES normalized_vendors (id),  -- workOrder.assignedToVendor
    approved_by_owner boolean,  -- workOrder.approvedByOwner
    instructions_to_vendor text,  -- workOrder.instructionsToVendor
    billed boolean,  -- workOrder.billed
    vendor_bill_id uuid REFERENCES normalized_vendor_bills (id),  -- workOrder.vendorBill
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_work_orders_task_id_idx ON normalized_work_orders (task_id);
CREATE INDEX IF NOT EXISTS normalized_work_orders_vendor_id_idx ON normalized_work_orders (vendor_id);
CREATE INDEX IF NOT EXISTS normalized_work_orders_vendor_bill_id_idx ON normalized_work_orders (vendor_bill_id);
CREATE INDEX IF NOT EXISTS normalized_work_orders_gone_at_idx ON normalized_work_orders (id) WHERE gone_at IS NOT NULL;
