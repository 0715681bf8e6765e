-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Units, active and inactive.
-- Source: doorloop_raw_units.
-- requires: normalized_properties, normalized_users
CREATE TABLE IF NOT EXISTS normalized_units (
    id uuid PRIMARY KEY,
    doorloop_id text NOT NULL UNIQUE,
    name text,  -- name
    property_id uuid NOT NULL REFERENCES normalized_properties (id),  -- property
    active boolean,  -- active
    address_same_as_property boolean,  -- addressSameAsProperty
    address_street1 text,  -- address.street1
    address_street2 text,  -- address.street2
    address_city text,  -- address.city
    address_state text,  -- address.state
    address_zip text,  -- address.zip
    address_country text,  -- address.country
    address_lat numeric,  -- address.lat
    address_lng numeric,  -- address.lng
    address_is_valid boolean,  -- address.isValidAddress
    beds numeric,  -- beds
    baths numeric,  -- baths
    size numeric,  -- size
    market_rent numeric(14, 2),  -- marketRent
    description text,  -- description
    amenities jsonb,  -- amenities
    pictures jsonb,  -- pictures
    listing jsonb,  -- listing
    rental_application_listing jsonb,  -- rentalApplicationListing
    listed boolean,  -- listed
    in_eviction boolean,  -- inEviction
    created_at timestamptz,  -- createdAt
    updated_at timestamptz,  -- updatedAt
    created_by_id uuid REFERENCES normalized_users (id),  -- createdBy
    updated_by_id uuid REFERENCES normalized_users (id),  -- updatedBy
    normalized_at timestamptz NOT NULL DEFAULT now(),
    last_run_id text,
    gone_at timestamptz  -- left, but rows of other tables still point at it (NULL: live)
);
CREATE INDEX IF NOT EXISTS normalized_units_property_id_idx ON normalized_units (property_id);
CREATE INDEX IF NOT EXISTS normalized_units_created_by_id_idx ON normalized_units (created_by_id);
CREATE INDEX IF NOT EXISTS normalized_units_updated_by_id_idx ON normalized_units (updated_by_id);
CREATE INDEX IF NOT EXISTS normalized_units_gone_at_idx ON normalized_units (id) WHERE gone_at IS NOT NULL;
