-- One row per work order: the task, its property and unit, vendor and timing.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_work_orders AS
SELECT w.id AS work_order_id, w.doorloop_id, w.task_id, t.subject, t.status, t.priority,
       t.property_id, p.name AS property_name, t.unit_id, u.name AS unit_name,
       w.vendor_id, coalesce(v.full_name, v.name, v.company_name) AS vendor_name,  -- the vendor's full name, else its name or company
       w.approved_by_owner, w.billed, w.vendor_bill_id,
       t.created_at, t.completed_at, t.due_date,
       round(extract(epoch FROM t.completed_at - t.created_at) / 86400, 6) AS days_to_complete  -- days from creation to completion; NULL while open
FROM normalized_work_orders w
JOIN normalized_tasks t ON t.id = w.task_id AND t.gone_at IS NULL
LEFT JOIN normalized_properties p ON p.id = t.property_id AND p.gone_at IS NULL
LEFT JOIN normalized_units u ON u.id = t.unit_id AND u.gone_at IS NULL
LEFT JOIN normalized_vendors v ON v.id = w.vendor_id AND v.gone_at IS NULL
WHERE w.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_work_orders_key ON get_full_work_orders (work_order_id);
