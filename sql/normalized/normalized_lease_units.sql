-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- The units of each lease (a lease can span several).
-- Source: doorloop_raw_leases units[].
-- requires: normalized_leases, normalized_units
CREATE TABLE IF NOT EXISTS normalized_lease_units (
    lease_id uuid NOT NULL REFERENCES normalized_leases (id) ON DELETE CASCADE,
    unit_id uuid NOT NULL REFERENCES normalized_units (id),
    PRIMARY KEY (lease_id, unit_id)
);
CREATE INDEX IF NOT EXISTS normalized_lease_units_unit_id_idx ON normalized_lease_units (unit_id);
