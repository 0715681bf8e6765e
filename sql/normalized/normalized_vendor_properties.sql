-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Properties each vendor serves (from vendor.properties[]).
-- Source: doorloop_raw_vendors properties[].
-- requires: normalized_vendors, normalized_properties
CREATE TABLE IF NOT EXISTS normalized_vendor_properties (
    vendor_id uuid NOT NULL REFERENCES normalized_vendors (id) ON DELETE CASCADE,
    property_id uuid NOT NULL REFERENCES normalized_properties (id),
    PRIMARY KEY (vendor_id, property_id)
);
CREATE INDEX IF NOT EXISTS normalized_vendor_properties_property_id_idx ON normalized_vendor_properties (property_id);
