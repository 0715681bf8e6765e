-- The KPIs of each owner's properties (through property.owners[]), one row per
-- (as_of_date, owner, property): counts and amounts unweighted, with the ownership percentage shown.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_kpi_by_owner AS
SELECT s.as_of_date, po.owner_id, coalesce(o.full_name, o.name) AS owner_name,  -- the owner's full name, else its name
       s.property_id, p.name AS property_name, po.ownership_percentage,
       s.units_total, s.units_occupied, s.units_vacant, s.physical_occupancy, s.gross_potential_rent,
       s.scheduled_rent, s.economic_occupancy, s.avg_market_rent, s.avg_lease_rent, s.delinquent_balance,
       s.prepaid_balance, s.delinquent_leases, s.delinquency_rate, s.aging_0_30, s.aging_31_60, s.aging_61_90,
       s.aging_90_plus, s.charged_mtd, s.collected_mtd, s.collection_rate_mtd, s.leases_expiring_30,
       s.leases_expiring_60, s.leases_expiring_90, s.move_outs_t12m, s.turnover_rate_t12m, s.work_orders_open,
       s.work_orders_completed_t90, s.work_order_median_days_t90, s.work_orders_within_24h_t90
FROM kpi_daily_snapshot s
JOIN normalized_property_owners po ON po.property_id = s.property_id
JOIN normalized_owners o ON o.id = po.owner_id AND o.gone_at IS NULL
JOIN normalized_properties p ON p.id = s.property_id AND p.gone_at IS NULL
WHERE s.scope = 'property'
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_kpi_by_owner_key ON get_full_kpi_by_owner (as_of_date, owner_id, property_id);
