-- Every row of kpi_daily_snapshot for the as-of dates start … end (docs/kpis.md), in one
-- set-based statement: generate_series over the range, never a loop over days. It reads the
-- normalized tables only (their live rows: a row marked gone_at is not data); the dates are
-- bound parameters, so nothing depends on when it runs (no now()). Read by kpi/compute.py.
--
-- How the pieces map to the definitions:
-- - lease_info: the lease effective end (cover_end = last covered date, infinity for an
--   open-ended ACTIVE lease, NULL when nothing dates its end: it covers nothing).
-- - tx: every money movement of a lease, signed (+ charges and reversed payments, - credits
--   and payments); amounts are the sum of lines when there are lines, else totalAmount (lines
--   and totals are already rounded half-up to cents when read).
-- - lease_steps: per lease and day with a movement, the running balance, the running sum of
--   positive charges and the latest reversal; a step holds until the next one. Delinquent and
--   prepaid balances are its steps summed as spans of days, like occupancy and rent. Only the
--   range's movements are sorted for the running sums: the history before it is one opening
--   step per lease, its sums (an aggregate, no sort), from its last movement to the first in range.
-- - flows: charged (30 days, month to date) and collected are window frames over each scope's
--   days with movements, read at a row per as-of date.
-- - FIFO aging: the pool (payments, credits, negative charges, less reversals) is
--   positive charges - balance; a positive charge (oldest first by date, then id) is open for
--   least(amount, greatest(0, cumulative - pool)); a negative pool adds one item of -pool dated
--   at the latest reversal. So the buckets of a lease sum to its balance.
-- - The portfolio row comes from GROUPING SETS over all rows (never a sum of ratios); the
--   nil uuid marks it until the final select turns it into property_id NULL.
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
opening AS (
    -- each lease's figures at the close of its last day with a movement before the range
    SELECT lease_id, max(date) AS from_date, sum(amount) AS balance,
           coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND amount > 0), 0) AS pos_total,
           max(date) FILTER (WHERE kind = 'reversal') AS last_reversal
    FROM tx WHERE date < %(start)s::date GROUP BY lease_id
),
lease_steps AS (
    -- one row per lease and day with a movement in the range: the last of the day's rows, whose
    -- running sums (a RANGE frame: all of the day's rows) from the opening figures are the day's closing ones
    SELECT s.lease_id, s.from_date, s.next_date, coalesce(o.balance, 0) + s.balance AS balance,
           coalesce(o.pos_total, 0) + s.pos_total AS pos_total,
           greatest(o.last_reversal, s.last_reversal) AS last_reversal
    FROM (SELECT lease_id, date AS from_date, lead(date) OVER w AS next_date, sum(amount) OVER w AS balance,
                 coalesce(sum(amount) FILTER (WHERE kind = 'charge' AND amount > 0) OVER w, 0) AS pos_total,
                 max(date) FILTER (WHERE kind = 'reversal') OVER w AS last_reversal
          FROM tx WHERE date >= %(start)s::date WINDOW w AS (PARTITION BY lease_id ORDER BY date)) s
    LEFT JOIN opening o ON o.lease_id = s.lease_id
    WHERE s.next_date IS DISTINCT FROM s.from_date
    UNION ALL
    -- the opening step: it holds until the lease's first movement in the range, if any
    SELECT o.lease_id, o.from_date, f.first_date, o.balance, o.pos_total, o.last_reversal
    FROM opening o
    LEFT JOIN (SELECT lease_id, min(date) AS first_date FROM tx WHERE date >= %(start)s::date GROUP BY lease_id) f
           ON f.lease_id = o.lease_id
),
range_steps AS (
    -- the steps with a balance on a day of the range, clipped to it (lo … hi), with their lease's property and pool
    SELECT s.lease_id, li.property_id, s.from_date, s.balance, s.pos_total, s.pos_total - s.balance AS pool,
           s.last_reversal, greatest(s.from_date, %(start)s::date) AS lo,
           least(coalesce(s.next_date - 1, %(end)s::date), %(end)s::date) AS hi
    FROM lease_steps s JOIN lease_info li ON li.lease_id = s.lease_id
    WHERE s.balance <> 0 AND s.from_date <= %(end)s::date AND (s.next_date IS NULL OR s.next_date > %(start)s::date)
),
-- Counts and sums that a lease (or a unit) adds on every day of one span of days are built as
-- steps, never by pairing each lease with each date: +value on the span's first day and -value
-- the day after its last, summed per property and day, carried forward (running sum) and spread
-- over the days until the property's next step. Spans are clipped to the range first.
lease_spans AS (
    -- covering: start <= D <= cover_end
    SELECT property_id, start AS lo, cover_end AS hi, rent, 1 AS covering,
           0 AS expiring_30, 0 AS expiring_60, 0 AS expiring_90, 0 AS move_outs
    FROM lease_info WHERE start IS NOT NULL AND cover_end IS NOT NULL
    UNION ALL
    -- leases_expiring_30 / _60 / _90: a covering Fixed lease, not rolling over, whose "end" is in
    -- (D, D + 30] / (D + 30, D + 60] / (D + 60, D + 90]: D in ["end" - 30, "end" - 1] and so on
    SELECT property_id, greatest(start, "end" - 30), least(cover_end, "end" - 1), 0, 0, 1, 0, 0, 0
    FROM lease_info WHERE term = 'Fixed' AND rollover_to_at_will IS NOT TRUE
         AND start IS NOT NULL AND cover_end IS NOT NULL AND "end" IS NOT NULL
    UNION ALL
    SELECT property_id, greatest(start, "end" - 60), least(cover_end, "end" - 31), 0, 0, 0, 1, 0, 0
    FROM lease_info WHERE term = 'Fixed' AND rollover_to_at_will IS NOT TRUE
         AND start IS NOT NULL AND cover_end IS NOT NULL AND "end" IS NOT NULL
    UNION ALL
    SELECT property_id, greatest(start, "end" - 90), least(cover_end, "end" - 61), 0, 0, 0, 0, 1, 0
    FROM lease_info WHERE term = 'Fixed' AND rollover_to_at_will IS NOT TRUE
         AND start IS NOT NULL AND cover_end IS NOT NULL AND "end" IS NOT NULL
    UNION ALL
    -- move_outs_t12m: eff_end in (D - 365, D], so D in [eff_end, eff_end + 364]
    SELECT property_id, eff_end, eff_end + 364, 0, 0, 0, 0, 0, 1
    FROM lease_info WHERE eff_end IS NOT NULL
),
unit_spans AS (
    -- a rentable unit is occupied on D when a lease of it covers D; overlapping leases count once
    SELECT u.id AS unit_id, u.property_id,
           greatest(li.start, %(start)s::date) AS lo, least(li.cover_end, %(end)s::date) AS hi
    FROM lease_info li JOIN normalized_lease_units lu ON lu.lease_id = li.lease_id
    JOIN rentable u ON u.id = lu.unit_id
    WHERE li.start <= li.cover_end AND li.start <= %(end)s::date AND li.cover_end >= %(start)s::date
),
unit_islands AS (
    -- each unit's spans merged where they overlap, so a unit adds 1 per day however many leases cover it
    SELECT property_id, min(lo) AS lo, max(hi) AS hi
    FROM (SELECT unit_id, property_id, lo, hi,
                 sum(starts::int) OVER (PARTITION BY unit_id ORDER BY lo, hi ROWS UNBOUNDED PRECEDING) AS island
          FROM (SELECT unit_id, property_id, lo, hi,
                       lo > coalesce(max(hi) OVER (PARTITION BY unit_id ORDER BY lo, hi
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), lo - 1) AS starts
                FROM unit_spans) s) s
    GROUP BY unit_id, property_id, island
),
spans AS (
    SELECT property_id, greatest(lo, %(start)s::date) AS lo, least(hi, %(end)s::date) AS hi, 0 AS occupied, rent,
           covering, expiring_30, expiring_60, expiring_90, move_outs,
           0 AS delinquent_balance, 0 AS prepaid_balance, 0 AS delinquent_leases
    FROM lease_spans WHERE lo <= hi AND lo <= %(end)s::date AND hi >= %(start)s::date
    UNION ALL
    SELECT property_id, lo, hi, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM unit_islands
    UNION ALL
    -- a lease's balance holds from a day with a movement until the next one
    SELECT property_id, lo, hi, 0, 0, 0, 0, 0, 0, 0, greatest(balance, 0), greatest(-balance, 0), (balance > 0)::int
    FROM range_steps
),
span_steps AS (
    SELECT property_id, day, lead(day) OVER w AS next_day,
           sum(sum(occupied)) OVER w AS occupied, sum(sum(rent)) OVER w AS rent,
           sum(sum(covering)) OVER w AS covering, sum(sum(expiring_30)) OVER w AS expiring_30,
           sum(sum(expiring_60)) OVER w AS expiring_60, sum(sum(expiring_90)) OVER w AS expiring_90,
           sum(sum(move_outs)) OVER w AS move_outs, sum(sum(delinquent_balance)) OVER w AS delinquent_balance,
           sum(sum(prepaid_balance)) OVER w AS prepaid_balance, sum(sum(delinquent_leases)) OVER w AS delinquent_leases
    FROM (SELECT property_id, lo AS day, occupied, rent, covering, expiring_30, expiring_60, expiring_90, move_outs,
                 delinquent_balance, prepaid_balance, delinquent_leases
          FROM spans
          UNION ALL
          SELECT property_id, hi + 1, -occupied, -rent, -covering, -expiring_30, -expiring_60, -expiring_90, -move_outs,
                 -delinquent_balance, -prepaid_balance, -delinquent_leases
          FROM spans) e
    GROUP BY property_id, day
    WINDOW w AS (PARTITION BY property_id ORDER BY day)
),
span_stats AS (
    SELECT s.day + n AS as_of_date, coalesce(s.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           sum(s.occupied)::bigint AS units_occupied, sum(s.rent) AS scheduled_rent,
           sum(s.covering)::bigint AS leases_covering, sum(s.expiring_30)::bigint AS leases_expiring_30,
           sum(s.expiring_60)::bigint AS leases_expiring_60, sum(s.expiring_90)::bigint AS leases_expiring_90,
           sum(s.move_outs)::bigint AS move_outs_t12m, sum(s.delinquent_balance) AS delinquent_balance,
           sum(s.prepaid_balance) AS prepaid_balance, sum(s.delinquent_leases)::bigint AS delinquent_leases
    FROM span_steps s
    CROSS JOIN LATERAL generate_series(0, coalesce(s.next_day - 1, %(end)s::date) - s.day) AS n
    WHERE s.day <= %(end)s::date
    GROUP BY GROUPING SETS ((s.day + n, s.property_id), (s.day + n))
),
-- A balance step holds one pool and one set of charges (a charge dates a step), so its open items
-- are fixed over the step's days and only their age moves: each (step, open item) pair is a span
-- of days, cut at the item's 30/60/90-day bucket boundaries and summed as steps like span_steps,
-- never by pairing each day with each open charge.
aged_steps AS (
    SELECT * FROM range_steps WHERE balance > 0
),
aged_pools AS (
    SELECT lease_id, min(pool) AS pool FROM aged_steps GROUP BY lease_id
),
positive_charges AS (
    -- the charges of the leases with an aged step only: a running sum reads its own lease's charges,
    -- so the others' are never sorted (most of them in a short range)
    SELECT c.lease_id, c.date, c.amount,
           sum(c.amount) OVER (PARTITION BY c.lease_id ORDER BY c.date, c.id ROWS UNBOUNDED PRECEDING) AS cumulative
    FROM tx c WHERE c.kind = 'charge' AND c.amount > 0 AND c.lease_id IN (SELECT lease_id FROM aged_pools)
),
open_charges AS MATERIALIZED (
    -- a charge the smallest pool of its lease's aged steps has paid is open at none of them: only the rest are paired
    SELECT c.lease_id, c.date, c.amount, c.cumulative
    FROM positive_charges c JOIN aged_pools m ON m.lease_id = c.lease_id AND c.cumulative > m.pool
),
open_items AS (
    SELECT s.property_id, s.lo, s.hi, c.date AS dated, least(c.amount, c.cumulative - s.pool) AS amount
    FROM aged_steps s JOIN open_charges c ON c.lease_id = s.lease_id AND c.date <= s.from_date AND c.cumulative > s.pool
    UNION ALL
    SELECT property_id, lo, hi, last_reversal, balance - pos_total
    FROM aged_steps
    WHERE pos_total < balance AND last_reversal IS NOT NULL  -- an undated item has no bucket
),
aging_spans AS (
    -- the item's days in each bucket: age = D - dated in 0–30, 31–60, 61–90, 91 and over
    SELECT o.property_id, greatest(o.lo, o.dated + b.first_age) AS lo,
           least(o.hi, o.dated + b.last_age) AS hi,
           CASE b.bucket WHEN 0 THEN o.amount ELSE 0 END AS a0, CASE b.bucket WHEN 1 THEN o.amount ELSE 0 END AS a1,
           CASE b.bucket WHEN 2 THEN o.amount ELSE 0 END AS a2, CASE b.bucket WHEN 3 THEN o.amount ELSE 0 END AS a3
    FROM open_items o
    CROSS JOIN (VALUES (0, 0, 30), (1, 31, 60), (2, 61, 90), (3, 91, NULL)) AS b (bucket, first_age, last_age)
    WHERE o.lo <= o.hi AND greatest(o.lo, o.dated + b.first_age) <= least(o.hi, o.dated + b.last_age)
),
aging_steps AS (
    SELECT property_id, day, lead(day) OVER w AS next_day,
           sum(sum(a0)) OVER w AS a0, sum(sum(a1)) OVER w AS a1, sum(sum(a2)) OVER w AS a2, sum(sum(a3)) OVER w AS a3
    FROM (SELECT property_id, lo AS day, a0, a1, a2, a3 FROM aging_spans
          UNION ALL
          SELECT property_id, hi + 1, -a0, -a1, -a2, -a3 FROM aging_spans) e
    GROUP BY property_id, day
    WINDOW w AS (PARTITION BY property_id ORDER BY day)
),
aging AS (
    -- a step with no open item adds no row, as a day without open items has none
    SELECT s.day + n AS as_of_date, coalesce(s.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           coalesce(sum(nullif(s.a0, 0)), 0) AS aging_0_30, coalesce(sum(nullif(s.a1, 0)), 0) AS aging_31_60,
           coalesce(sum(nullif(s.a2, 0)), 0) AS aging_61_90, coalesce(sum(nullif(s.a3, 0)), 0) AS aging_90_plus
    FROM aging_steps s
    CROSS JOIN LATERAL generate_series(0, coalesce(s.next_day - 1, %(end)s::date) - s.day) AS n
    WHERE s.day <= %(end)s::date AND (s.a0 <> 0 OR s.a1 <> 0 OR s.a2 <> 0 OR s.a3 <> 0)
    GROUP BY GROUPING SETS ((s.day + n, s.property_id), (s.day + n))
),
property_days AS (
    -- charges and collections per day with any, for each property and (the nil uuid) the portfolio
    SELECT coalesce(li.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey, t.date,
           sum(t.amount) FILTER (WHERE t.kind = 'charge') AS charges,
           -sum(t.amount) FILTER (WHERE t.kind IN ('payment', 'reversal')) AS collected
    FROM tx t JOIN lease_info li ON li.lease_id = t.lease_id
    WHERE t.date > %(start)s::date - 31
    GROUP BY GROUPING SETS ((li.property_id, t.date), (t.date))
),
flows AS (
    -- each scope gets a row per date of the range beside its days with movements, and window frames
    -- read the sums at it: the last 30 days (D - 29 … D) and the month to date, never a day paired with each date
    SELECT as_of_date, pkey, charged_30, charged_mtd, collected_mtd
    FROM (SELECT date AS as_of_date, pkey, is_as_of,
                 coalesce(sum(charges) OVER (PARTITION BY pkey ORDER BY date
                                             RANGE BETWEEN interval '29 days' PRECEDING AND CURRENT ROW), 0) AS charged_30,
                 coalesce(sum(charges) OVER m, 0) AS charged_mtd, coalesce(sum(collected) OVER m, 0) AS collected_mtd
          FROM (SELECT pkey, date, charges, collected, false AS is_as_of FROM property_days
                UNION ALL
                SELECT k.pkey, d.as_of_date, NULL, NULL, true
                FROM (SELECT DISTINCT pkey FROM property_days) k CROSS JOIN dates d) e
          WINDOW m AS (PARTITION BY pkey, date_trunc('month', date) ORDER BY date)) f
    WHERE is_as_of
),
-- A work order holds on a span of days (open, or within 90 days of completion): its as-of dates are
-- generated from the span clipped to the range (CROSS JOIN LATERAL generate_series), never found by
-- comparing every row with every date; the definition's own condition still filters them.
work_orders AS (
    SELECT property_id, status, (created_at AT TIME ZONE 'UTC')::date AS created_day,
           (completed_at AT TIME ZONE 'UTC')::date AS completed_day,
           extract(epoch FROM completed_at - created_at) / 86400 AS days
    FROM normalized_tasks WHERE type = 'WORK_ORDER' AND property_id IS NOT NULL AND gone_at IS NULL
),
wo_open AS (
    SELECT d.as_of_date, coalesce(w.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS work_orders_open
    FROM work_orders w
    CROSS JOIN LATERAL (SELECT greatest(w.created_day, %(start)s::date) + n AS as_of_date
                        FROM generate_series(0, least(coalesce(w.completed_day, %(end)s::date), %(end)s::date) - greatest(w.created_day, %(start)s::date)) AS n) d
    WHERE w.created_day <= d.as_of_date AND (w.completed_day IS NULL OR w.completed_day > d.as_of_date)
      AND w.status <> 'ARCHIVED'
    GROUP BY GROUPING SETS ((d.as_of_date, w.property_id), (d.as_of_date))
),
wo_done AS (
    SELECT d.as_of_date, coalesce(w.property_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pkey,
           count(*) AS work_orders_completed_t90,
           (percentile_disc(0.5) WITHIN GROUP (ORDER BY w.days)
            + percentile_disc(0.5) WITHIN GROUP (ORDER BY w.days DESC)) / 2 AS median_days,
           count(*) FILTER (WHERE w.days <= 1)::numeric / count(*) AS within_24h
    FROM work_orders w
    CROSS JOIN LATERAL (SELECT greatest(w.completed_day, %(start)s::date) + n AS as_of_date
                        FROM generate_series(0, least(w.completed_day + 90, %(end)s::date) - greatest(w.completed_day, %(start)s::date)) AS n) d
    WHERE w.completed_day > d.as_of_date - 90 AND w.completed_day <= d.as_of_date
    GROUP BY GROUPING SETS ((d.as_of_date, w.property_id), (d.as_of_date))
),
grid AS (
    SELECT d.as_of_date, s.pkey,
           coalesce(us.units_total, 0) AS units_total,
           coalesce(ss.units_occupied, 0) AS units_occupied,
           coalesce(us.gross_potential_rent, 0) AS gross_potential_rent,
           us.avg_market_rent,
           coalesce(ss.scheduled_rent, 0) AS scheduled_rent,
           coalesce(ss.leases_covering, 0) AS leases_covering,
           coalesce(ss.delinquent_balance, 0) AS delinquent_balance,
           coalesce(ss.prepaid_balance, 0) AS prepaid_balance,
           coalesce(ss.delinquent_leases, 0) AS delinquent_leases,
           coalesce(ag.aging_0_30, 0) AS aging_0_30, coalesce(ag.aging_31_60, 0) AS aging_31_60,
           coalesce(ag.aging_61_90, 0) AS aging_61_90, coalesce(ag.aging_90_plus, 0) AS aging_90_plus,
           coalesce(fl.charged_30, 0) AS charged_30, coalesce(fl.charged_mtd, 0) AS charged_mtd,
           coalesce(fl.collected_mtd, 0) AS collected_mtd,
           coalesce(ss.leases_expiring_30, 0) AS leases_expiring_30,
           coalesce(ss.leases_expiring_60, 0) AS leases_expiring_60,
           coalesce(ss.leases_expiring_90, 0) AS leases_expiring_90,
           coalesce(ss.move_outs_t12m, 0) AS move_outs_t12m,
           coalesce(wo.work_orders_open, 0) AS work_orders_open,
           coalesce(wd.work_orders_completed_t90, 0) AS work_orders_completed_t90,
           wd.median_days, wd.within_24h
    FROM dates d CROSS JOIN scopes s
    LEFT JOIN unit_stats us ON us.pkey = s.pkey
    LEFT JOIN span_stats ss ON ss.as_of_date = d.as_of_date AND ss.pkey = s.pkey
    LEFT JOIN aging ag ON ag.as_of_date = d.as_of_date AND ag.pkey = s.pkey
    LEFT JOIN flows fl ON fl.as_of_date = d.as_of_date AND fl.pkey = s.pkey
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
