-- One row per legal case: its status (open, paused in bankruptcy_stay, closed), current phase,
-- the day it entered that phase and the days since (as of the refresh, as_of_date), the
-- tenant, lease, unit, property and owners it concerns (names and ids), the tenant's balance
-- from the lease ledger of docs/kpis.md (charges − credits − payments + reversed payments,
-- live rows dated on or before balance_as_of: the latest kpi_daily_snapshot date, as
-- get_full_rent_roll uses, else today) over the case's lease, or every lease of its tenant
-- when the case names no lease; what its invoices billed, what was paid and what is
-- outstanding, and how many documents were filed. Names show even after DoorLoop drops the
-- record (a case outlives its tenancy).
CREATE MATERIALIZED VIEW IF NOT EXISTS get_full_legal_cases AS
WITH as_of AS (
    SELECT current_date AS today,
           coalesce((SELECT max(as_of_date) FROM kpi_daily_snapshot), current_date) AS balance_date
),
case_leases AS (
    SELECT c.id AS case_id, l.id AS lease_id
    FROM legal_cases c JOIN normalized_leases l ON l.id = c.lease_id AND l.gone_at IS NULL
    UNION
    SELECT c.id, l.id
    FROM legal_cases c
    JOIN normalized_lease_tenants lt ON lt.tenant_id = c.tenant_id AND lt.gone_at IS NULL
    JOIN normalized_leases l ON l.id = lt.lease_id AND l.gone_at IS NULL
    WHERE c.lease_id IS NULL
),
tx AS (
    SELECT c.lease_id, coalesce(x.amount, c.total_amount, 0) AS amount
    FROM normalized_lease_charges c
    LEFT JOIN (SELECT lease_charge_id, sum(amount) AS amount FROM normalized_lease_charge_lines GROUP BY 1) x
           ON x.lease_charge_id = c.id
    CROSS JOIN as_of
    WHERE c.date <= as_of.balance_date AND c.gone_at IS NULL
    UNION ALL
    SELECT c.lease_id, -coalesce(x.amount, c.total_amount, 0)
    FROM normalized_lease_credits c
    LEFT JOIN (SELECT lease_credit_id, sum(amount) AS amount FROM normalized_lease_credit_lines GROUP BY 1) x
           ON x.lease_credit_id = c.id
    CROSS JOIN as_of
    WHERE c.date <= as_of.balance_date AND c.gone_at IS NULL
    UNION ALL
    SELECT p.lease_id, -p.amount_received
    FROM normalized_lease_payments p CROSS JOIN as_of
    WHERE p.date <= as_of.balance_date AND p.gone_at IS NULL
    UNION ALL
    SELECT r.lease_id, coalesce(x.amount, r.total_amount, 0)
    FROM normalized_lease_reversed_payments r
    LEFT JOIN (SELECT lease_reversed_payment_id, sum(amount) AS amount
               FROM normalized_lease_reversed_payment_lines GROUP BY 1) x ON x.lease_reversed_payment_id = r.id
    CROSS JOIN as_of
    WHERE r.date <= as_of.balance_date AND r.gone_at IS NULL
),
balances AS (
    SELECT cl.case_id, coalesce(sum(tx.amount), 0) AS balance
    FROM case_leases cl LEFT JOIN tx ON tx.lease_id = cl.lease_id
    GROUP BY cl.case_id
),
bills AS (
    SELECT case_id, count(*) AS bills, sum(amount) AS billed, sum(paid_amount) AS paid
    FROM legal_case_bills GROUP BY case_id
),
documents AS (
    SELECT case_id, count(*) AS filed, max(uploaded_at) AS last_filed_at FROM legal_case_documents GROUP BY case_id
)
SELECT c.case_key, c.id AS case_id,
       CASE WHEN c.is_closed THEN 'closed' WHEN c.current_phase = 'bankruptcy_stay' THEN 'paused' ELSE 'open' END
           AS status,  -- open, paused (in bankruptcy_stay) or closed
       c.current_phase, c.paused_from_phase,
       c.phase_date AS phase_started_on,  -- the date the case entered its current phase
       as_of.today - c.phase_date AS days_in_phase,  -- days from phase_started_on to as_of_date
       as_of.today AS as_of_date,  -- the day of the refresh
       c.docket_number, c.notice_type, c.court, c.county, c.attorney,
       c.tenant_id, c.tenant_doorloop_id,
       coalesce(t.full_name, t.name) AS tenant_name,  -- the tenant's full name
       c.lease_id, c.lease_doorloop_id, l.name AS lease_name,
       c.unit_id, u.name AS unit_name, c.property_id, p.name AS property_name,
       o.owner_ids,  -- the property's owners (normalized_owners.id), by name
       o.owner_name,  -- the property's owners' names, comma-separated
       b.balance AS tenant_balance,  -- lease ledger balance on balance_as_of (docs/kpis.md#building-blocks)
       as_of.balance_date AS balance_as_of,  -- the latest kpi_daily_snapshot date, else the day of the refresh
       c.amount_owed, c.judgment_amount,
       coalesce(bl.bills, 0) AS bills,  -- invoices in legal_case_bills
       coalesce(bl.billed, 0) AS billed_amount,  -- sum of the invoices' amounts
       coalesce(bl.paid, 0) AS paid_amount,  -- sum of the invoices' paid amounts
       coalesce(bl.billed, 0) - coalesce(bl.paid, 0) AS outstanding_amount,  -- billed_amount - paid_amount
       coalesce(d.filed, 0) AS documents_filed,  -- documents in legal_case_documents
       d.last_filed_at,  -- when a document of the case was last sent
       c.created_at, c.updated_at
FROM legal_cases c
CROSS JOIN as_of
LEFT JOIN normalized_tenants t ON t.id = c.tenant_id
LEFT JOIN normalized_leases l ON l.id = c.lease_id
LEFT JOIN normalized_units u ON u.id = c.unit_id
LEFT JOIN normalized_properties p ON p.id = c.property_id
LEFT JOIN LATERAL (
    SELECT array_agg(ow.id ORDER BY coalesce(ow.full_name, ow.name), ow.id) AS owner_ids,
           string_agg(coalesce(ow.full_name, ow.name), ', ' ORDER BY coalesce(ow.full_name, ow.name), ow.id)
               AS owner_name
    FROM normalized_property_owners po JOIN normalized_owners ow ON ow.id = po.owner_id AND ow.gone_at IS NULL
    WHERE po.property_id = c.property_id
) o ON true
LEFT JOIN balances b ON b.case_id = c.id
LEFT JOIN bills bl ON bl.case_id = c.id
LEFT JOIN documents d ON d.case_id = c.id
WITH NO DATA;
CREATE UNIQUE INDEX IF NOT EXISTS get_full_legal_cases_key ON get_full_legal_cases (case_id);
