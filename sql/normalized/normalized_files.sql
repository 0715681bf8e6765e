-- File metadata (no signed download URLs).
-- Source: doorloop_raw_files.
-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- requires: normalized_users
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
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text
);
CREATE INDEX IF NOT EXISTS normalized_files_created_by_id_idx ON normalized_files (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_files_updated_by_id_idx ON normalized_files (updated_by_id);
