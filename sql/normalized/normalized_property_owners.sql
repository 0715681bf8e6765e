-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Who owns each property, with the ownership percentage (from property.owners[]).
-- Source: doorloop_raw_properties owners[].
-- requires: normalized_properties, normalized_owners
CREATE TABLE IF NOT EXISTS normalized_property_owners (
    property_id uuid NOT NULL REFERENCES normalized_properties (id) ON DELETE CASCADE,
    owner_id uuid NOT NULL REFERENCES normalized_owners (id),  -- owner
    ownership_percentage numeric,  -- ownershipPercentage
    PRIMARY KEY (property_id, owner_id)
);
CREATE INDEX IF NOT EXISTS normalized_property_owners_owner_id_idx ON normalized_property_owners (owner_id);
