-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Notes on any resource: linked_<type>_id per type with a table, the DoorLoop id for the rest.
-- Source: doorloop_raw_notes.
-- requires: normalized_tenants, normalized_owners, normalized_vendors, normalized_properties, normalized_units, normalized_leases, normalized_tasks, normalized_users
CREATE TABLE IF NOT EXISTS normalized_notes (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    title text,  -- title
    body text,  -- body
    tags jsonb,  -- tags
    linked_resource_type text CHECK (linked_resource_type IN ('TENANT', 'OWNER', 'VENDOR', 'PROPERTY', 'UNIT', 'LEASE', 'LEASE_DRAFT', 'TASK', 'RENTAL_APPLICATION')),  -- linkedResource.resourceType
    linked_resource_doorloop_id text,  -- linkedResource.resourceId
    linked_tenant_id uuid REFERENCES normalized_tenants (id),  -- linkedResource.resourceId when linkedResource.resourceType = TENANT
    linked_owner_id uuid REFERENCES normalized_owners (id),  -- linkedResource.resourceId when linkedResource.resourceType = OWNER
    linked_vendor_id uuid REFERENCES normalized_vendors (id),  -- linkedResource.resourceId when linkedResource.resourceType = VENDOR
    linked_property_id uuid REFERENCES normalized_properties (id),  -- linkedResource.resourceId when linkedResource.resourceType = PROPERTY
    linked_unit_id uuid REFERENCES normalized_units (id),  -- linkedResource.resourceId when linkedResource.resourceType = UNIT
    linked_lease_id uuid REFERENCES normalized_leases (id),  -- linkedResource.resourceId when linkedResource.resourceType = LEASE
    linked_task_id uuid REFERENCES normalized_tasks (id),  -- linkedResource.resourceId when linkedResource.resourceType = TASK
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_tenant_id_idx ON normalized_notes (linked_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_owner_id_idx ON normalized_notes (linked_owner_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_vendor_id_idx ON normalized_notes (linked_vendor_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_property_id_idx ON normalized_notes (linked_property_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_unit_id_idx ON normalized_notes (linked_unit_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_lease_id_idx ON normalized_notes (linked_lease_id);
CREATE INDEX IF NOT EXISTS normalized_notes_linked_task_id_idx ON normalized_notes (linked_task_id);
CREATE INDEX IF NOT EXISTS normalized_notes_created_by_id_idx ON normalized_notes (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_notes_updated_by_id_idx ON normalized_notes (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_notes_gone_at_idx ON normalized_notes (id) WHERE gone_at IS NOT NULL;
