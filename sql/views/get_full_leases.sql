-- One row per lease: property, units, tenants, terms, rent and DoorLoop's balances.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_leases AS
SELECT l.id AS lease_id, l.doorloop_id, l.name AS lease_name, l.property_id, p.name AS property_name,
       l.start, l."end", l.term, l.rollover_to_at_will, l.status,
       l.total_recurring_rent, l.total_deposits_held, l.total_balance_due,
       (SELECT string_agg(u.name, ', ' ORDER BY u.name) FROM normalized_lease_units lu
          JOIN normalized_units u ON u.id = lu.unit_id WHERE lu.lease_id = l.id AND u.gone_at IS NULL) AS units,  -- the lease's units by name, comma-separated
       (SELECT count(*) FROM normalized_lease_units lu WHERE lu.lease_id = l.id) AS unit_count,  -- how many units the lease covers
       (SELECT string_agg(coalesce(t.full_name, t.name), ', ' ORDER BY coalesce(t.full_name, t.name))
          FROM normalized_lease_tenants lt JOIN normalized_tenants t ON t.id = lt.tenant_id
         WHERE lt.lease_id = l.id AND lt.gone_at IS NULL AND t.gone_at IS NULL) AS tenants,  -- the lease's tenants by name, comma-separated
       (SELECT max(lt.move_in_at) FROM normalized_lease_tenants lt WHERE lt.lease_id = l.id AND lt.gone_at IS NULL) AS last_move_in,  -- the latest move-in of its tenants
       (SELECT max(lt.move_out_at) FROM normalized_lease_tenants lt WHERE lt.lease_id = l.id AND lt.gone_at IS NULL) AS last_move_out,  -- the latest move-out of its tenants
       l.created_at, l.updated_at
FROM normalized_leases l
JOIN normalized_properties p ON p.id = l.property_id AND p.gone_at IS NULL
WHERE l.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_leases_key ON get_full_leases (lease_id);
