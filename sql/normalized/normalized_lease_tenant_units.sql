-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- The units each lease tenant row covers (from units[]).
-- Source: doorloop_raw_lease_tenants units[].
-- requires: normalized_lease_tenants, normalized_units
CREATE TABLE IF NOT EXISTS normalized_lease_tenant_units (
    lease_tenant_id uuid NOT NULL REFERENCES normalized_lease_tenants (id) ON DELETE CASCADE,
    unit_id uuid NOT NULL REFERENCES normalized_units (id),
    PRIMARY KEY (lease_tenant_id, unit_id)
);
CREATE INDEX IF NOT EXISTS normalized_lease_tenant_units_unit_id_idx ON normalized_lease_tenant_units (unit_id);
