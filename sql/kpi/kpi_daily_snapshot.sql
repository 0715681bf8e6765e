-- Every KPI of docs/kpis.md, one row per (as_of_date, scope, property).
-- scope 'property' rows carry their property_id; the scope 'portfolio' row has property_id NULL.
-- Written by the kpi_daily_snapshot asset (altus_pipeline/kpi/compute.py) for a range of dates.
CREATE TABLE IF NOT EXISTS kpi_daily_snapshot (
    as_of_date date NOT NULL,
    scope text NOT NULL CHECK (scope IN ('property', 'portfolio')),
    property_id uuid,
    units_total integer NOT NULL,
    units_occupied integer NOT NULL,
    units_vacant integer NOT NULL,
    physical_occupancy numeric(12, 6),
    gross_potential_rent numeric(14, 2) NOT NULL,
    scheduled_rent numeric(14, 2) NOT NULL,
    economic_occupancy numeric(12, 6),
    avg_market_rent numeric(14, 2),
    avg_lease_rent numeric(14, 2),
    delinquent_balance numeric(14, 2) NOT NULL,
    prepaid_balance numeric(14, 2) NOT NULL,
    delinquent_leases integer NOT NULL,
    delinquency_rate numeric(12, 6),
    aging_0_30 numeric(14, 2) NOT NULL,
    aging_31_60 numeric(14, 2) NOT NULL,
    aging_61_90 numeric(14, 2) NOT NULL,
    aging_90_plus numeric(14, 2) NOT NULL,
    charged_mtd numeric(14, 2) NOT NULL,
    collected_mtd numeric(14, 2) NOT NULL,
    collection_rate_mtd numeric(12, 6),
    leases_expiring_30 integer NOT NULL,
    leases_expiring_60 integer NOT NULL,
    leases_expiring_90 integer NOT NULL,
    move_outs_t12m integer NOT NULL,
    turnover_rate_t12m numeric(12, 6),
    work_orders_open integer NOT NULL,
    work_orders_completed_t90 integer NOT NULL,
    work_order_median_days_t90 numeric(12, 6),
    work_orders_within_24h_t90 numeric(12, 6),
    CHECK ((scope = 'portfolio') = (property_id IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS kpi_daily_snapshot_key
    ON kpi_daily_snapshot (as_of_date, scope, property_id) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS kpi_daily_snapshot_property_idx ON kpi_daily_snapshot (property_id, as_of_date);
