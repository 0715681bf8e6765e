-- One row per property: its fields, unit counts, owners and portfolios.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_properties AS
SELECT p.id AS property_id, p.doorloop_id, p.name, p.type, p.class, p.active,
       p.address_street1, p.address_city, p.address_state, p.address_zip,
       (SELECT count(*) FROM normalized_units u WHERE u.property_id = p.id AND u.gone_at IS NULL) AS units_all,  -- units of the property, active or not
       (SELECT count(*) FROM normalized_units u
         WHERE u.property_id = p.id AND u.active IS TRUE AND u.gone_at IS NULL) AS units_active,  -- its active units
       (SELECT coalesce(sum(u.market_rent), 0) FROM normalized_units u
         WHERE u.property_id = p.id AND u.active IS TRUE AND u.gone_at IS NULL) AS gross_potential_rent,  -- the market rent of its active units, summed (NULL counts 0)
       (SELECT string_agg(o.full_name, ', ' ORDER BY o.full_name) FROM normalized_property_owners po
          JOIN normalized_owners o ON o.id = po.owner_id WHERE po.property_id = p.id AND o.gone_at IS NULL) AS owners,  -- its owners by name, comma-separated
       (SELECT string_agg(f.name, ', ' ORDER BY f.name) FROM normalized_portfolio_properties pp
          JOIN normalized_portfolios f ON f.id = pp.portfolio_id WHERE pp.property_id = p.id) AS portfolios,  -- the portfolios it belongs to, comma-separated
       p.created_at, p.updated_at
FROM normalized_properties p
WHERE p.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_properties_key ON get_full_properties (property_id);
