-- Notes on any resource (the link is polymorphic, so kept as the DoorLoop id).
-- Source: doorloop_raw_notes.
-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_notes (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    title text,  -- title
    body text,  -- body
    tags jsonb,  -- tags
    linked_resource_type text CHECK (linked_resource_type IN ('TENANT', 'OWNER', 'VENDOR', 'PROPERTY', 'UNIT', 'LEASE', 'LEASE_DRAFT', 'TASK', 'RENTAL_APPLICATION')),  -- linkedResource.resourceType
    linked_resource_doorloop_id text,  -- linkedResource.resourceId
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id) ON DELETE SET NULL,  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text
);
CREATE INDEX IF NOT EXISTS normalized_notes_created_by_id_idx ON normalized_notes (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_notes_updated_by_id_idx ON normalized_notes (updated_by_id);
