-- The latest as_of_date of kpi_daily_snapshot: the portfolio row and one row per property.
-- requires: kpi_daily_snapshot
CREATE OR REPLACE VIEW kpi_summary AS
SELECT s.as_of_date, s.scope, s.property_id,
       CASE WHEN s.scope = 'portfolio' THEN 'Portfolio' ELSE p.name END AS property_name,  -- the property's name; 'Portfolio' on the portfolio row
       s.units_total, s.units_occupied, s.units_vacant, s.physical_occupancy, s.gross_potential_rent,
       s.scheduled_rent, s.economic_occupancy, s.avg_market_rent, s.avg_lease_rent, s.delinquent_balance,
       s.prepaid_balance, s.delinquent_leases, s.delinquency_rate, s.aging_0_30, s.aging_31_60, s.aging_61_90,
       s.aging_90_plus, s.charged_mtd, s.collected_mtd, s.collection_rate_mtd, s.leases_expiring_30,
       s.leases_expiring_60, s.leases_expiring_90, s.move_outs_t12m, s.turnover_rate_t12m, s.work_orders_open,
       s.work_orders_completed_t90, s.work_order_median_days_t90, s.work_orders_within_24h_t90
FROM kpi_daily_snapshot s
LEFT JOIN normalized_properties p ON p.id = s.property_id AND p.gone_at IS NULL
WHERE s.as_of_date = (SELECT max(as_of_date) FROM kpi_daily_snapshot);
