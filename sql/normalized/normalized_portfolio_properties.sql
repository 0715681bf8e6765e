-- Generated from altus_pipeline/normalized/spec.py (python -m altus_pipeline.normalized.ddl): edit the spec.
-- Properties of each portfolio (DoorLoop property group).
-- Source: doorloop_raw_portfolios properties[].
-- requires: normalized_portfolios, normalized_properties
CREATE TABLE IF NOT EXISTS normalized_portfolio_properties (
    portfolio_id uuid NOT NULL REFERENCES normalized_portfolios (id) ON DELETE CASCADE,
    property_id uuid NOT NULL REFERENCES normalized_properties (id),
    PRIMARY KEY (portfolio_id, property_id)
);
CREATE INDEX IF NOT EXISTS normalized_portfolio_properties_property_id_idx ON normalized_portfolio_properties (property_id);
