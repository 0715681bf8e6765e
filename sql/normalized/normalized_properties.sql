-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Properties with their address as columns.
-- Source: doorloop_raw_properties.
-- requires: normalized_users
CREATE TABLE IF NOT EXISTS normalized_properties (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text NOT NULL,  -- name
    type text,  -- type
    type_description text,  -- typeDescription
    class text CHECK (class IN ('RESIDENTIAL', 'COMMERCIAL')),  -- class
    active boolean,  -- active
    address_street1 text,  -- address.street1
    address_street2 text,  -- address.street2
    address_city text,  -- address.city
    address_state text,  -- address.state
    address_zip text,  -- address.zip
    address_country text,  -- address.country
    address_lat numeric,  -- address.lat
    address_lng numeric,  -- address.lng
    address_is_valid boolean,  -- address.isValidAddress
    description text,  -- description
    num_active_units bigint,  -- numActiveUnits
    amenities jsonb,  -- amenities
    pictures jsonb,  -- pictures
    settings jsonb,  -- settings
    board_members jsonb,  -- boardMembers
    pets_policy jsonb,  -- petsPolicy
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_properties_created_by_id_idx ON normalized_properties (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_properties_updated_by_id_idx ON normalized_properties (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_properties_gone_at_idx ON normalized_properties (id) WHERE gone_at IS NOT NULL;
