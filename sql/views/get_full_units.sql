-- One row per unit (active or not) with its property and the lease that currently holds it.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_units AS
SELECT u.id AS unit_id, u.doorloop_id, u.name AS unit_name, u.property_id, p.name AS property_name, u.active,
       u.beds, u.baths, u.size, u.market_rent, u.in_eviction, u.listed,
       cur.lease_id AS active_lease_id, cur.lease_name AS active_lease_name,
       u.created_at, u.updated_at
FROM normalized_units u
JOIN normalized_properties p ON p.id = u.property_id AND p.gone_at IS NULL
LEFT JOIN LATERAL (
    SELECT l.id AS lease_id, l.name AS lease_name FROM normalized_lease_units lu
    JOIN normalized_leases l ON l.id = lu.lease_id
    WHERE lu.unit_id = u.id AND l.status = 'ACTIVE' AND l.gone_at IS NULL
    ORDER BY l.start DESC, l.id LIMIT 1
) cur ON true
WHERE u.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_units_key ON get_full_units (unit_id);
