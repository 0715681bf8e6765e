-- One row per rentable unit as of the latest as_of_date of kpi_daily_snapshot: property, unit,
-- the lease covering that date (the latest-starting one if several), its tenants, market and
-- lease rent, deposits held, the lease balance on that date, start/end and VACANT/OCCUPIED.
-- Lease coverage and balance follow docs/kpis.md#building-blocks, as kpi_daily_snapshot does.
-- Set-based: each unit's lease is picked once (DISTINCT ON), and the tenants and balances of
-- the picked leases are aggregated once and joined, never evaluated per unit.
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_rent_roll AS
WITH as_of AS (
    SELECT max(as_of_date) AS d FROM kpi_daily_snapshot
),
tenant_moves AS (
    SELECT lease_id, bool_and(move_out_at IS NOT NULL) AS all_out, max(move_out_at) AS last_out
    FROM normalized_lease_tenants WHERE gone_at IS NULL GROUP BY lease_id
),
covering AS (
    SELECT l.* FROM normalized_leases l
    LEFT JOIN tenant_moves t ON t.lease_id = l.id
    CROSS JOIN as_of
    WHERE l.gone_at IS NULL AND l.start <= as_of.d
      AND as_of.d <= CASE WHEN t.all_out THEN t.last_out
                          WHEN l.status = 'ACTIVE' THEN 'infinity'::date
                          ELSE coalesce(l."end", t.last_out) END
),
unit_leases AS (
    SELECT DISTINCT ON (lu.unit_id) lu.unit_id, c.*
    FROM covering c JOIN normalized_lease_units lu ON lu.lease_id = c.id
    ORDER BY lu.unit_id, c.start DESC, c.id
),
leases AS (
    SELECT DISTINCT id FROM unit_leases
),
tenants AS (
    SELECT lt.lease_id, string_agg(coalesce(t.full_name, t.name), ', ' ORDER BY coalesce(t.full_name, t.name)) AS names
    FROM normalized_lease_tenants lt JOIN normalized_tenants t ON t.id = lt.tenant_id
    WHERE lt.gone_at IS NULL AND t.gone_at IS NULL AND lt.lease_id IN (SELECT id FROM leases)
    GROUP BY lt.lease_id
),
ledger AS (
    SELECT c.lease_id, coalesce(x.amount, c.total_amount, 0) AS amount
    FROM normalized_lease_charges c
    LEFT JOIN (SELECT lease_charge_id, sum(amount) AS amount FROM normalized_lease_charge_lines GROUP BY 1) x
           ON x.lease_charge_id = c.id
    WHERE c.date <= (SELECT d FROM as_of) AND c.gone_at IS NULL AND c.lease_id IN (SELECT id FROM leases)
    UNION ALL
    SELECT c.lease_id, -coalesce(x.amount, c.total_amount, 0)
    FROM normalized_lease_credits c
    LEFT JOIN (SELECT lease_credit_id, sum(amount) AS amount FROM normalized_lease_credit_lines GROUP BY 1) x
           ON x.lease_credit_id = c.id
    WHERE c.date <= (SELECT d FROM as_of) AND c.gone_at IS NULL AND c.lease_id IN (SELECT id FROM leases)
    UNION ALL
    SELECT p.lease_id, -p.amount_received
    FROM normalized_lease_payments p
    WHERE p.date <= (SELECT d FROM as_of) AND p.gone_at IS NULL AND p.lease_id IN (SELECT id FROM leases)
    UNION ALL
    SELECT r.lease_id, coalesce(x.amount, r.total_amount, 0)
    FROM normalized_lease_reversed_payments r
    LEFT JOIN (SELECT lease_reversed_payment_id, sum(amount) AS amount
               FROM normalized_lease_reversed_payment_lines GROUP BY 1) x ON x.lease_reversed_payment_id = r.id
    WHERE r.date <= (SELECT d FROM as_of) AND r.gone_at IS NULL AND r.lease_id IN (SELECT id FROM leases)
),
balances AS (
    SELECT lease_id, sum(amount) AS balance FROM ledger GROUP BY lease_id
)
SELECT (SELECT d FROM as_of) AS as_of_date,  -- the latest as_of_date of kpi_daily_snapshot
       u.property_id, p.name AS property_name, u.id AS unit_id,
       u.name AS unit_name, l.id AS lease_id, l.name AS lease_name,
       tn.names AS tenants,  -- the lease's tenants by name, comma-separated
       u.market_rent, l.total_recurring_rent AS lease_rent, l.total_deposits_held AS deposits_held,
       CASE WHEN l.id IS NULL THEN NULL ELSE coalesce(b.balance, 0) END
           AS balance,  -- the lease's balance on as_of_date: charges less credits and payments, plus reversed payments
       l.start AS lease_start, l."end" AS lease_end,
       CASE WHEN l.id IS NULL THEN 'VACANT' ELSE 'OCCUPIED' END AS status  -- OCCUPIED when a lease covers the unit on as_of_date, else VACANT
FROM normalized_units u
JOIN normalized_properties p ON p.id = u.property_id AND p.gone_at IS NULL
LEFT JOIN unit_leases l ON l.unit_id = u.id
LEFT JOIN tenants tn ON tn.lease_id = l.id
LEFT JOIN balances b ON b.lease_id = l.id
WHERE u.active IS TRUE AND u.gone_at IS NULL
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_rent_roll_key ON get_full_rent_roll (unit_id);
