-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- File metadata (no signed download URLs).
-- Source: doorloop_raw_files.
-- requires: normalized_tenants, normalized_owners, normalized_vendors, normalized_properties, normalized_units, normalized_leases, normalized_tasks, normalized_vendor_bills, normalized_vendor_credits, normalized_notes, normalized_communications, normalized_users
CREATE TABLE IF NOT EXISTS normalized_files (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text,  -- name
    notes text,  -- notes
    tags jsonb,  -- tags
    size bigint,  -- size
    mime_type text,  -- mimeType
    linked_resource_type text CHECK (linked_resource_type IN ('TENANT', 'OWNER', 'VENDOR', 'PROPERTY', 'UNIT', 'LEASE', 'LEASE_DRAFT', 'TASK', 'RENTAL_APPLICATION', 'BILL', 'BILL_PAYMENT', 'VENDOR_CREDIT', 'NOTE', 'INSURANCE_POLICY', 'COMMUNICATION')),  -- linkedResource.resourceType
    linked_resource_doorloop_id text,  -- linkedResource.resourceId
    linked_tenant_id uuid REFERENCES normalized_tenants (id),  -- linkedResource.resourceId when linkedResource.resourceType = TENANT
    linked_owner_id uuid REFERENCES normalized_owners (id),  -- linkedResource.resourceId when linkedResource.resourceType = OWNER
    linked_vendor_id uuid REFERENCES normalized_vendors (id),  -- linkedResource.resourceId when linkedResource.resourceType = VENDOR
    linked_property_id uuid REFERENCES normalized_properties (id),  -- linkedResource.resourceId when linkedResource.resourceType = PROPERTY
    linked_unit_id uuid REFERENCES normalized_units (id),  -- linkedResource.resourceId when linkedResource.resourceType = UNIT
    linked_lease_id uuid REFERENCES normalized_leases (id),  -- linkedResource.resourceId when linkedResource.resourceType = LEASE
    linked_task_id uuid REFERENCES normalized_tasks (id),  -- linkedResource.resourceId when linkedResource.resourceType = TASK
    linked_bill_id uuid REFERENCES normalized_vendor_bills (id),  -- linkedResource.resourceId when linkedResource.resourceType = BILL
    linked_vendor_credit_id uuid REFERENCES normalized_vendor_credits (id),  -- linkedResource.resourceId when linkedResource.resourceType = VENDOR_CREDIT
    linked_note_id uuid REFERENCES normalized_notes (id),  -- linkedResource.resourceId when linkedResource.resourceType = NOTE
    linked_communication_id uuid REFERENCES normalized_communications (id),  -- linkedResource.resourceId when linkedResource.resourceType = COMMUNICATION
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_files_linked_tenant_id_idx ON normalized_files (linked_tenant_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_owner_id_idx ON normalized_files (linked_owner_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_vendor_id_idx ON normalized_files (linked_vendor_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_property_id_idx ON normalized_files (linked_property_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_unit_id_idx ON normalized_files (linked_unit_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_lease_id_idx ON normalized_files (linked_lease_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_task_id_idx ON normalized_files (linked_task_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_bill_id_idx ON normalized_files (linked_bill_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_vendor_credit_id_idx ON normalized_files (linked_vendor_credit_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_note_id_idx ON normalized_files (linked_note_id);
CREATE INDEX IF NOT EXISTS normalized_files_linked_communication_id_idx ON normalized_files (linked_communication_id);
CREATE INDEX IF NOT EXISTS normalized_files_created_by_id_idx ON normalized_files (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_files_updated_by_id_idx ON normalized_files (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_files_gone_at_idx ON normalized_files (id) WHERE gone_at IS NOT NULL;
