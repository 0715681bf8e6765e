-- One row per tenant (no personal identifiers: the normalized layer never holds them).
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_tenants AS
SELECT t.id AS tenant_id, t.doorloop_id, coalesce(t.full_name, t.name) AS tenant_name,  -- the tenant's full name, else its name
       t.type, t.company,
       t.company_name, t.portal_status,
       (SELECT count(DISTINCT lt.lease_id) FROM normalized_lease_tenants lt
         WHERE lt.tenant_id = t.id AND lt.gone_at IS NULL) AS leases,  -- leases the tenant is on
       (SELECT count(DISTINCT lt.lease_id) FROM normalized_lease_tenants lt
          JOIN normalized_leases l ON l.id = lt.lease_id
         WHERE lt.tenant_id = t.id AND l.status = 'ACTIVE' AND lt.gone_at IS NULL AND l.gone_at IS NULL) AS active_leases,  -- of them, active leases
       (SELECT max(lt.move_in_at) FROM normalized_lease_tenants lt WHERE lt.tenant_id = t.id AND lt.gone_at IS NULL) AS last_move_in,  -- the tenant's latest move-in
       (SELECT max(lt.move_out_at) FROM normalized_lease_tenants lt WHERE lt.tenant_id = t.id AND lt.gone_at IS NULL) AS last_move_out,  -- the tenant's latest move-out
       t.created_at, t.updated_at
FROM normalized_tenants t
WHERE t.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_tenants_key ON get_full_tenants (tenant_id);
