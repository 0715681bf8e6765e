-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Tasks of every type; work orders also in normalized_work_orders.
-- Source: doorloop_raw_tasks.
-- requires: normalized_properties, normalized_units, normalized_users, normalized_tenants, normalized_owners, normalized_vendors, normalized_leases
CREATE TABLE IF NOT EXISTS normalized_tasks (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    subject text,  -- subject
    type text NOT NULL CHECK (type IN ('INTERNAL_TASK', 'TENANT_REQUEST', 'OWNER_REQUEST', 'WORK_ORDER')),  -- type
    status text NOT NULL CHECK (status IN ('NOT_STARTED', 'RECEIVED', 'IN_PROGRESS', 'COMPLETED', 'ARCHIVED')),  -- status
    priority text CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH')),  -- priority
    description text,  -- description
    due_date date,  -- dueDate
    reference text,  -- reference
    property_id uuid REFERENCES normalized_properties (id),  -- property
    unit_id uuid REFERENCES normalized_units (id),  -- unit
    requested_by_user_id uuid REFERENCES normalized_users (id),  -- requestedByUser
    requested_by_tenant_id uuid REFERENCES normalized_tenants (id),  -- requestedByTenant
    requested_by_owner_id uuid REFERENCES normalized_owners (id),  -- requestedByOwner
    entry_permission text CHECK (entry_permission IN ('NOT_APPLICABLE', 'YES', 'NO')),  -- entryPermission
    entry_notes text,  -- entryNotes
    completed_at timestamptz,  -- completedAt
    date_type text,  -- dateType
    created_by_type text,  -- createdByType
    linked_resource_type text,  -- linkedResource.resourceType
    linked_resource_doorloop_id text,  -- linkedResource.resourceId
    linked_tenant_id uuid REFERENCES normalized_tenants (id),  -- linkedResource.resourceId when linkedResource.resourceType = TENANT
    linked_owner_id uuid REFERENCES normalized_owners (id),  -- linkedResource.resourceId when linkedResource.resourceType = OWNER
    linked_vendor_id uuid REFERENCES normalized_vendors (id),  -- linkedResource.resourceId when linkedResource.resourceType = VENDOR
    linked_property_id uuid REFERENCES normalized_properties (id),  -- linkedResource.resourceId when linkedResource.resourceType = PROPERTY
    linked_unit_id uuid REFERENCES normalized_units (id),  -- linkedResource.resourceId when linkedResource.resourceType = UNIT
    linked_lease_id uuid REFERENCES normalized_leases (id),  -- linkedResource.resourceId when linkedResource.resourceType = LEASE
    linked_task_id uuid REFERENCES normalized_tasks (id) ON DELETE SET NULL,  -- linkedResource.resourceId when linkedResource.resourceType = TASK
    tenant_request_type text,  -- tenantRequestType
    tenant_request_maintenance_category text,  -- tenantRequestMaintenanceCategory
    created_at timestamptz NOT NULL,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_tasks_property_id_idx ON normalized_tasks (property_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_unit_id_idx ON normalized_tasks (unit_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_requested_by_user_id_idx ON normalized_tasks (requested_by_user_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_requested_by_tenant_id_idx ON normalized_tasks (requested_by_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_requested_by_owner_id_idx ON normalized_tasks (requested_by_owner_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_tenant_id_idx ON normalized_tasks (linked_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_owner_id_idx ON normalized_tasks (linked_owner_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_vendor_id_idx ON normalized_tasks (linked_vendor_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_property_id_idx ON normalized_tasks (linked_property_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_unit_id_idx ON normalized_tasks (linked_unit_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_lease_id_idx ON normalized_tasks (linked_lease_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_linked_task_id_idx ON normalized_tasks (linked_task_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_created_by_id_idx ON normalized_tasks (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_updated_by_id_idx ON normalized_tasks (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_tasks_gone_at_idx ON normalized_tasks (id) WHERE gone_at IS NOT NULL;
