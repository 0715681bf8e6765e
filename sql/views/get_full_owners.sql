-- One row per owner: the properties owned (with percentages) and their active units.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_owners AS
SELECT o.id AS owner_id, o.doorloop_id, coalesce(o.full_name, o.name) AS owner_name,  -- the owner's full name, else its name
       o.company, o.active,
       o.management_start_date, o.management_end_date,
       (SELECT count(*) FROM normalized_property_owners po WHERE po.owner_id = o.id) AS properties,  -- how many properties the owner owns a share of
       (SELECT string_agg(p.name || ' (' || coalesce(po.ownership_percentage::text, '?') || '%)', ', ' ORDER BY p.name)
          FROM normalized_property_owners po JOIN normalized_properties p ON p.id = po.property_id
         WHERE po.owner_id = o.id) AS property_shares,  -- each property with the owner's percentage, comma-separated
       (SELECT count(*) FROM normalized_property_owners po JOIN normalized_units u ON u.property_id = po.property_id
         WHERE po.owner_id = o.id AND u.active IS TRUE AND u.gone_at IS NULL) AS active_units,  -- active units of those properties
       o.created_at, o.updated_at
FROM normalized_owners o
WHERE o.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_owners_key ON get_full_owners (owner_id);
