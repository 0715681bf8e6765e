-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Tenants of each lease (/leases/tenants): status, move-in, move-out, notice.
-- Source: doorloop_raw_lease_tenants.
-- requires: normalized_leases, normalized_tenants, normalized_properties
CREATE TABLE IF NOT EXISTS normalized_lease_tenants (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    lease_id uuid NOT NULL REFERENCES normalized_leases (id),  -- lease
    tenant_id uuid NOT NULL REFERENCES normalized_tenants (id),  -- tenant
    property_id uuid REFERENCES normalized_properties (id),  -- property
    name text,  -- name
    status text CHECK (status IN ('PAST', 'FUTURE', 'CURRENT')),  -- status
    move_in_at date,  -- moveInAt
    move_out_at date,  -- moveOutAt
    move_out_notice_at date,  -- moveOutNoticeAt
    portal_enabled boolean,  -- portalEnabled
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_lease_tenants_lease_id_idx ON normalized_lease_tenants (lease_id);
CREATE INDEX IF NOT EXISTS normalized_lease_tenants_tenant_id_idx ON normalized_lease_tenants (tenant_id);
CREATE INDEX IF NOT EXISTS normalized_lease_tenants_property_id_idx ON normalized_lease_tenants (property_id);
CREATE INDEX IF NOT EXISTS normalized_lease_tenants_gone_at_idx ON normalized_lease_tenants (id) WHERE gone_at IS NOT NULL;
