-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Who each communication was from and to (role from, to, cc, bcc), linked to the person.
-- Source: doorloop_raw_communications from[], to[], cc[], bcc[].
-- requires: normalized_communications, normalized_users, normalized_tenants, normalized_owners, normalized_vendors
CREATE TABLE IF NOT EXISTS normalized_communication_participants (
    communication_id uuid NOT NULL REFERENCES normalized_communications (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('from', 'to', 'cc', 'bcc')),
    line_number integer NOT NULL,
    address text,  -- address
    display_name text,  -- displayName
    linked_to_type text CHECK (linked_to_type IN ('USER', 'TENANT', 'OWNER', 'VENDOR', 'SYSTEM')),  -- linkedToType
    linked_to_doorloop_id text,  -- linkedToId
    user_id uuid REFERENCES normalized_users (id),  -- linkedToId when linkedToType = USER
    tenant_id uuid REFERENCES normalized_tenants (id),  -- linkedToId when linkedToType = TENANT
    owner_id uuid REFERENCES normalized_owners (id),  -- linkedToId when linkedToType = OWNER
    vendor_id uuid REFERENCES normalized_vendors (id),  -- linkedToId when linkedToType = VENDOR
    PRIMARY KEY (communication_id, role, line_number)
);
CREATE INDEX IF NOT EXISTS normalized_communication_participants_user_id_idx ON normalized_communication_participants (user_id);
CREATE INDEX IF NOT EXISTS normalized_communication_participants_tenant_id_idx ON normalized_communication_participants (tenant_id);
CREATE INDEX IF NOT EXISTS normalized_communication_participants_owner_id_idx ON normalized_communication_participants (owner_id);
CREATE INDEX IF NOT EXISTS normalized_communication_participants_vendor_id_idx ON normalized_communication_participants (vendor_id);
