"""The KPI computation of ``docs/kpis.md``: one set-based statement for a range of dates.

``SNAPSHOT_SQL`` returns every row of ``kpi_daily_snapshot`` for the as-of dates
``%(start)s`` … ``%(end)s`` (``generate_series`` over the range, never a loop over days),
from the normalized tables only (their live rows: a row marked ``gone_at`` is not data);
the dates are parameters, so nothing depends on when it runs (no ``now()``).
``write_snapshot`` replaces the range in one transaction.

How the pieces map to the definitions:

- ``lease_info``: the lease effective end (``cover_end`` = last covered date, ``infinity``
  for an open-ended ACTIVE lease, NULL when nothing dates its end: it covers nothing).
- ``tx``: every money movement of a lease, signed (+ charges and reversed payments,
  − credits and payments); amounts are the sum of lines when there are lines, else
  ``totalAmount`` (lines and totals are already rounded half-up to cents when read).
- ``lease_steps``: per lease and day with a movement, the running balance, the running sum
  of positive charges and the latest reversal; a step holds until the next one.
- FIFO aging: the pool (payments, credits, negative charges, less reversals) is
  ``positive charges − balance``; a positive charge (oldest first by date, then id) is open
  for ``least(amount, greatest(0, cumulative − pool))``; a negative pool adds one item of
  ``−pool`` dated at the latest reversal. So the buckets of a lease sum to its balance.
- The portfolio row comes from ``GROUPING SETS`` over all rows (never a sum of ratios);
  ``PORTFOLIO`` marks it until the final select turns it into ``property_id`` NULL.
"""

from __future__ import annotations

import datetime as dt

import psycopg

KPI_COLUMNS: tuple[str, ...] = (
    "units_total", "units_occupied", "units_vacant", "physical_occupancy", "gross_potential_rent",
    "scheduled_rent", "economic_occupancy", "avg_market_rent", "avg_lease_rent", "delinquent_balance",
    "prepaid_balance", "delinquent_leases", "delinquency_rate", "aging_0_30", "aging_31_60", "aging_61_90",
    "aging_90_plus", "charged_mtd", "collected_mtd", "collection_rate_mtd", "leases_expiring_30",
    "leases_expiring_60", "leases_expiring_90", "move_outs_t12m", "turnover_rate_t12m", "work_orders_open",
    "work_orders_completed_t90", "work_order_median_days_t90", "work_orders_within_24h_t90",
)
MONEY = ("gross_potential_rent", "scheduled_rent", "avg_market_rent", "avg_lease_rent", "delinquent_balance",
         "prepaid_balance", "aging_0_30", "aging_31_60", "aging_61_90", "aging_90_plus", "charged_mtd", "collected_mtd")
COUNTS = ("units_total", "units_occupied", "units_vacant", "delinquent_leases", "leases_expiring_30",
          "leases_expiring_60", "leases_expiring_90", "move_outs_t12m", "work_orders_open", "work_orders_completed_t90")
RATIOS = ("physical_occupancy", "economic_occupancy", "delinquency_rate", "collection_rate_mtd", "turnover_rate_t12m",
          "work_order_median_days_t90", "work_orders_within_24h_t90")

SNAPSHOT_SQL = """
WITH
dates AS (
    SELECT d::date AS as_of_date FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
),
scopes AS (
    SELECT id AS pkey FROM normalized_properties WHERE gone_at IS NULL
    UNION ALL SELECT '00000000-0000-0000-0000-000000000000'::uuid
),
rentable AS (
    SELECT id, property_id, market_rent FROM normalized_units WHERE active IS TRUE AND gone_at IS NULL
),
unit_stats AS (
    SELECT coalesce(property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS units_total, coalesce(sum(market_rent), 0) AS gross_potential_rent,
           avg(market_rent) AS avg_market_rent
    FROM rentable GROUP BY GROUPING SETS ((property_id), ())
),
tenant_moves AS (
    SELECT lease_id, bool_and(move_out_at IS NOT NULL) AS all_out, max(move_out_at) AS last_out
    FROM normalized_lease_tenants WHERE gone_at IS NULL GROUP BY lease_id
),
lease_info AS (
    SELECT l.id AS lease_id, l.property_id, l.start, l."end", l.term, l.rollover_to_at_will,
           coalesce(l.total_recurring_rent, 0) AS rent,
           CASE WHEN t.all_out THEN t.last_out
                WHEN l.status = 'ACTIVE' THEN NULL
                ELSE coalesce(l."end", t.last_out) END AS eff_end,
           CASE WHEN t.all_out THEN t.last_out
                WHEN l.status = 'ACTIVE' THEN 'infinity'::date
                ELSE coalesce(l."end", t.last_out) END AS cover_end
    FROM normalized_leases l
    LEFT JOIN tenant_moves t ON t.lease_id = l.id
    WHERE l.gone_at IS NULL
),
covering AS (
    SELECT d.as_of_date, li.*
    FROM lease_info li JOIN dates d ON d.as_of_date >= li.start AND d.as_of_date <= li.cover_end
),
lease_stats AS (
    SELECT c.as_of_date, coalesce(c.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           sum(c.rent) AS scheduled_rent, count(*) AS leases_covering,
           count(*) FILTER (WHERE c.term = 'Fixed' AND c.rollover_to_at_will IS NOT TRUE
                            AND c."end" > c.as_of_date AND c."end" <= c.as_of_date + 30) AS leases_expiring_30,
           count(*) FILTER (WHERE c.term = 'Fixed' AND c.rollover_to_at_will IS NOT TRUE
                            AND c."end" > c.as_of_date + 30 AND c."end" <= c.as_of_date + 60) AS leases_expiring_60,
           count(*) FILTER (WHERE c.term = 'Fixed' AND c.rollover_to_at_will IS NOT TRUE
                            AND c."end" > c.as_of_date + 60 AND c."end" <= c.as_of_date + 90) AS leases_expiring_90
    FROM covering c GROUP BY GROUPING SETS ((c.as_of_date, c.property_id), (c.as_of_date))
),
occupancy AS (
    SELECT o.as_of_date, coalesce(o.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(DISTINCT o.unit_id) AS units_occupied
    FROM (SELECT DISTINCT c.as_of_date, u.id AS unit_id, u.property_id
          FROM covering c JOIN normalized_lease_units lu ON lu.lease_id = c.lease_id
          JOIN rentable u ON u.id = lu.unit_id) o
    GROUP BY GROUPING SETS ((o.as_of_date, o.property_id), (o.as_of_date))
),
move_outs AS (
    SELECT d.as_of_date, coalesce(li.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS move_outs_t12m
    FROM lease_info li JOIN dates d ON li.eff_end > d.as_of_date - 365 AND li.eff_end <= d.as_of_date
    GROUP BY GROUPING SETS ((d.as_of_date, li.property_id), (d.as_of_date))
),
tx AS (
    SELECT c.lease_id, c.date, c.id, 'charge' AS kind, coalesce(x.amount, c.total_amount, 0) AS amount
    FROM normalized_lease_charges c
    LEFT JOIN (SELECT lease_charge_id, sum(amount) AS amount FROM normalized_lease_charge_lines GROUP BY 1) x
           ON x.lease_charge_id = c.id
    WHERE c.date <= %(end)s::date AND c.gone_at IS NULL
    UNION ALL
    SELECT c.lease_id, c.date, c.id, 'credit', -coalesce(x.amount, c.total_amount, 0)
    FROM normalized_lease_credits c
    LEFT JOIN (SELECT lease_credit_id, sum(amount) AS amount FROM normalized_lease_credit_lines GROUP BY 1) x
           ON x.lease_credit_id = c.id
    WHERE c.date <= %(end)s::date AND c.gone_at IS NULL
    UNION ALL
    SELECT p.lease_id, p.date, p.id, 'payment', -p.amount_received
    FROM normalized_lease_payments p WHERE p.date <= %(end)s::date AND p.gone_at IS NULL
    UNION ALL
    SELECT r.lease_id, r.date, r.id, 'reversal', coalesce(x.amount, r.total_amount, 0)
    FROM normalized_lease_reversed_payments r
    LEFT JOIN (SELECT lease_reversed_payment_id, sum(amount) AS amount
               FROM normalized_lease_reversed_payment_lines GROUP BY 1) x ON x.lease_reversed_payment_id = r.id
    WHERE r.date <= %(end)s::date AND r.gone_at IS NULL
),
lease_days AS (
    SELECT lease_id, date, sum(amount) AS delta,
           coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND amount > 0), 0) AS pos_delta,
           max(date) FILTER (WHERE kind = 'reversal') AS reversal_date
    FROM tx GROUP BY lease_id, date
),
lease_steps AS (
    SELECT lease_id, date AS from_date,
           lead(date) OVER (PARTITION BY lease_id ORDER BY date) AS next_date,
           sum(delta) OVER (PARTITION BY lease_id ORDER BY date) AS balance,
           sum(pos_delta) OVER (PARTITION BY lease_id ORDER BY date) AS pos_total,
           max(reversal_date) OVER (PARTITION BY lease_id ORDER BY date) AS last_reversal
    FROM lease_days
),
balances AS (
    SELECT d.as_of_date, s.lease_id, li.property_id, s.balance, s.pos_total - s.balance AS pool, s.last_reversal
    FROM lease_steps s
    JOIN dates d ON d.as_of_date >= s.from_date AND (s.next_date IS NULL OR d.as_of_date < s.next_date)
    JOIN lease_info li ON li.lease_id = s.lease_id
    WHERE s.balance <> 0 AND s.from_date <= %(end)s::date AND (s.next_date IS NULL OR s.next_date > %(start)s::date)
),
positive_charges AS (
    SELECT lease_id, date, amount,
           sum(amount) OVER (PARTITION BY lease_id ORDER BY date, id ROWS UNBOUNDED PRECEDING) AS cumulative
    FROM tx WHERE kind = 'charge' AND amount > 0
),
open_items AS (
    SELECT b.as_of_date, b.property_id, b.as_of_date - c.date AS age,
           least(c.amount, c.cumulative - b.pool) AS amount
    FROM balances b
    JOIN positive_charges c ON c.lease_id = b.lease_id AND c.date <= b.as_of_date AND c.cumulative > b.pool
    WHERE b.balance > 0
    UNION ALL
    SELECT b.as_of_date, b.property_id, b.as_of_date - b.last_reversal, -b.pool
    FROM balances b WHERE b.balance > 0 AND b.pool < 0
),
balance_stats AS (
    SELECT b.as_of_date, coalesce(b.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           coalesce(sum(b.balance) FILTER (WHERE b.balance > 0), 0) AS delinquent_balance,
           coalesce(sum(-b.balance) FILTER (WHERE b.balance < 0), 0) AS prepaid_balance,
           count(*) FILTER (WHERE b.balance > 0) AS delinquent_leases
    FROM balances b GROUP BY GROUPING SETS ((b.as_of_date, b.property_id), (b.as_of_date))
),
aging AS (
    SELECT o.as_of_date, coalesce(o.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           coalesce(sum(o.amount) FILTER (WHERE o.age <= 30), 0) AS aging_0_30,
           coalesce(sum(o.amount) FILTER (WHERE o.age BETWEEN 31 AND 60), 0) AS aging_31_60,
           coalesce(sum(o.amount) FILTER (WHERE o.age BETWEEN 61 AND 90), 0) AS aging_61_90,
           coalesce(sum(o.amount) FILTER (WHERE o.age > 90), 0) AS aging_90_plus
    FROM open_items o GROUP BY GROUPING SETS ((o.as_of_date, o.property_id), (o.as_of_date))
),
property_days AS (
    SELECT li.property_id, t.date,
           sum(t.amount) FILTER (WHERE t.kind = 'charge') AS charges,
           sum(t.amount) FILTER (WHERE t.kind = 'payment') AS payments,
           sum(t.amount) FILTER (WHERE t.kind = 'reversal') AS reversals
    FROM tx t JOIN lease_info li ON li.lease_id = t.lease_id
    WHERE t.date > %(start)s::date - 31
    GROUP BY li.property_id, t.date
),
flows AS (
    SELECT d.as_of_date, coalesce(p.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           coalesce(sum(p.charges) FILTER (WHERE p.date > d.as_of_date - 30), 0) AS charged_30,
           coalesce(sum(p.charges) FILTER (WHERE p.date >= date_trunc('month', d.as_of_date)::date), 0) AS charged_mtd,
           coalesce(sum(-coalesce(p.payments, 0) - coalesce(p.reversals, 0))
                    FILTER (WHERE p.date >= date_trunc('month', d.as_of_date)::date), 0) AS collected_mtd
    FROM dates d
    JOIN property_days p ON p.date <= d.as_of_date
         AND p.date >= least(d.as_of_date - 29, date_trunc('month', d.as_of_date)::date)
    GROUP BY GROUPING SETS ((d.as_of_date, p.property_id), (d.as_of_date))
),
work_orders AS (
    SELECT property_id, status, (created_at AT TIME ZONE 'UTC')::date AS created_day,
           (completed_at AT TIME ZONE 'UTC')::date AS completed_day,
           extract(epoch FROM completed_at - created_at) / 86400 AS days
    FROM normalized_tasks WHERE type = 'WORK_ORDER' AND property_id IS NOT NULL AND gone_at IS NULL
),
wo_open AS (
    SELECT d.as_of_date, coalesce(w.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS work_orders_open
    FROM work_orders w JOIN dates d ON w.created_day <= d.as_of_date
         AND (w.completed_day IS NULL OR w.completed_day > d.as_of_date)
    WHERE w.status <> 'ARCHIVED'
    GROUP BY GROUPING SETS ((d.as_of_date, w.property_id), (d.as_of_date))
),
wo_done AS (
    SELECT d.as_of_date, coalesce(w.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS work_orders_completed_t90,
           (percentile_disc(0.5) WITHIN GROUP (ORDER BY w.days)
            + percentile_disc(0.5) WITHIN GROUP (ORDER BY w.days DESC)) / 2 AS median_days,
           count(*) FILTER (WHERE w.days <= 1)::numeric / count(*) AS within_24h
    FROM work_orders w JOIN dates d ON w.completed_day > d.as_of_date - 90 AND w.completed_day <= d.as_of_date
    GROUP BY GROUPING SETS ((d.as_of_date, w.property_id), (d.as_of_date))
),
grid AS (
    SELECT d.as_of_date, s.pkey,
           coalesce(us.units_total, 0) AS units_total,
           coalesce(oc.units_occupied, 0) AS units_occupied,
           coalesce(us.gross_potential_rent, 0) AS gross_potential_rent,
           us.avg_market_rent,
           coalesce(ls.scheduled_rent, 0) AS scheduled_rent,
           coalesce(ls.leases_covering, 0) AS leases_covering,
           coalesce(bs.delinquent_balance, 0) AS delinquent_balance,
           coalesce(bs.prepaid_balance, 0) AS prepaid_balance,
           coalesce(bs.delinquent_leases, 0) AS delinquent_leases,
           coalesce(ag.aging_0_30, 0) AS aging_0_30, coalesce(ag.aging_31_60, 0) AS aging_31_60,
           coalesce(ag.aging_61_90, 0) AS aging_61_90, coalesce(ag.aging_90_plus, 0) AS aging_90_plus,
           coalesce(fl.charged_30, 0) AS charged_30, coalesce(fl.charged_mtd, 0) AS charged_mtd,
           coalesce(fl.collected_mtd, 0) AS collected_mtd,
           coalesce(ls.leases_expiring_30, 0) AS leases_expiring_30,
           coalesce(ls.leases_expiring_60, 0) AS leases_expiring_60,
           coalesce(ls.leases_expiring_90, 0) AS leases_expiring_90,
           coalesce(mo.move_outs_t12m, 0) AS move_outs_t12m,
           coalesce(wo.work_orders_open, 0) AS work_orders_open,
           coalesce(wd.work_orders_completed_t90, 0) AS work_orders_completed_t90,
           wd.median_days, wd.within_24h
    FROM dates d CROSS JOIN scopes s
    LEFT JOIN unit_stats us ON us.pkey = s.pkey
    LEFT JOIN occupancy oc ON oc.as_of_date = d.as_of_date AND oc.pkey = s.pkey
    LEFT JOIN lease_stats ls ON ls.as_of_date = d.as_of_date AND ls.pkey = s.pkey
    LEFT JOIN balance_stats bs ON bs.as_of_date = d.as_of_date AND bs.pkey = s.pkey
    LEFT JOIN aging ag ON ag.as_of_date = d.as_of_date AND ag.pkey = s.pkey
    LEFT JOIN flows fl ON fl.as_of_date = d.as_of_date AND fl.pkey = s.pkey
    LEFT JOIN move_outs mo ON mo.as_of_date = d.as_of_date AND mo.pkey = s.pkey
    LEFT JOIN wo_open wo ON wo.as_of_date = d.as_of_date AND wo.pkey = s.pkey
    LEFT JOIN wo_done wd ON wd.as_of_date = d.as_of_date AND wd.pkey = s.pkey
)
SELECT g.as_of_date,
       CASE WHEN g.pkey = '00000000-0000-0000-0000-000000000000'::uuid THEN 'portfolio' ELSE 'property' END AS scope,
       nullif(g.pkey, '00000000-0000-0000-0000-000000000000'::uuid) AS property_id,
       g.units_total, g.units_occupied, g.units_total - g.units_occupied AS units_vacant,
       round(g.units_occupied::numeric / nullif(g.units_total, 0), 6) AS physical_occupancy,
       round(g.gross_potential_rent, 2) AS gross_potential_rent,
       round(g.scheduled_rent, 2) AS scheduled_rent,
       round(g.scheduled_rent / nullif(g.gross_potential_rent, 0), 6) AS economic_occupancy,
       round(g.avg_market_rent, 2) AS avg_market_rent,
       round(g.scheduled_rent / nullif(g.leases_covering, 0), 2) AS avg_lease_rent,
       g.delinquent_balance, g.prepaid_balance, g.delinquent_leases,
       round(g.delinquent_balance / nullif(g.charged_30, 0), 6) AS delinquency_rate,
       g.aging_0_30, g.aging_31_60, g.aging_61_90, g.aging_90_plus,
       g.charged_mtd, g.collected_mtd,
       round(g.collected_mtd / nullif(g.charged_mtd, 0), 6) AS collection_rate_mtd,
       g.leases_expiring_30, g.leases_expiring_60, g.leases_expiring_90,
       g.move_outs_t12m,
       round(g.move_outs_t12m::numeric / nullif(g.units_total, 0), 6) AS turnover_rate_t12m,
       g.work_orders_open, g.work_orders_completed_t90,
       round(g.median_days, 6) AS work_order_median_days_t90,
       round(g.within_24h, 6) AS work_orders_within_24h_t90
FROM grid g
"""

_COLUMNS = ("as_of_date", "scope", "property_id", *KPI_COLUMNS)


def write_snapshot(conn: psycopg.Connection, start: dt.date, end: dt.date) -> dict[str, int]:
    """Replace the snapshot rows of ``start`` … ``end`` with freshly computed ones (one transaction).

    Returns the rows deleted and inserted; unchanged rows are rewritten identically.
    """
    cols = ", ".join(_COLUMNS)
    with conn.transaction():
        deleted = conn.execute("DELETE FROM kpi_daily_snapshot WHERE as_of_date BETWEEN %(start)s AND %(end)s",
                               {"start": start, "end": end}).rowcount
        inserted = conn.execute(f"INSERT INTO kpi_daily_snapshot ({cols}) {SNAPSHOT_SQL}",
                                {"start": start, "end": end}).rowcount
    return {"deleted": deleted, "inserted": inserted}
