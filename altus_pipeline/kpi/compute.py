"""The KPI computation of ``docs/kpis.md``: one set-based statement for a range of dates.

The statement lives in ``snapshot.sql`` next to this module (package data, read through
``importlib.resources`` so an installed package finds it too); its header maps each CTE to
the definitions. It returns every row of ``kpi_daily_snapshot`` for the as-of dates bound
as ``%(start)s`` … ``%(end)s``, from the normalized tables' live rows only.
``write_snapshot`` replaces the range in one transaction.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

import psycopg
from psycopg import sql

KPI_COLUMNS: tuple[str, ...] = (
    "units_total",
    "units_occupied",
    "units_vacant",
    "physical_occupancy",
    "gross_potential_rent",
    "scheduled_rent",
    "economic_occupancy",
    "avg_market_rent",
    "avg_lease_rent",
    "delinquent_balance",
    "prepaid_balance",
    "delinquent_leases",
    "delinquency_rate",
    "aging_0_30",
    "aging_31_60",
    "aging_61_90",
    "aging_90_plus",
    "charged_mtd",
    "collected_mtd",
    "collection_rate_mtd",
    "leases_expiring_30",
    "leases_expiring_60",
    "leases_expiring_90",
    "move_outs_t12m",
    "turnover_rate_t12m",
    "work_orders_open",
    "work_orders_completed_t90",
    "work_order_median_days_t90",
    "work_orders_within_24h_t90",
)
MONEY = (
    "gross_potential_rent",
    "scheduled_rent",
    "avg_market_rent",
    "avg_lease_rent",
    "delinquent_balance",
    "prepaid_balance",
    "aging_0_30",
    "aging_31_60",
    "aging_61_90",
    "aging_90_plus",
    "charged_mtd",
    "collected_mtd",
)
COUNTS = (
    "units_total",
    "units_occupied",
    "units_vacant",
    "delinquent_leases",
    "leases_expiring_30",
    "leases_expiring_60",
    "leases_expiring_90",
    "move_outs_t12m",
    "work_orders_open",
    "work_orders_completed_t90",
)
RATIOS = (
    "physical_occupancy",
    "economic_occupancy",
    "delinquency_rate",
    "collection_rate_mtd",
    "turnover_rate_t12m",
    "work_order_median_days_t90",
    "work_orders_within_24h_t90",
)

#: The KPI statement (``snapshot.sql``), with the as-of range as bound parameters ``start`` and ``end``.
# The tables a tenant's ledger balance is summed from: the KPI statement and every view that shows a
# balance read the same ones, so their numbers agree.
LEDGER_TABLES: tuple[str, ...] = (
    "normalized_lease_charges",
    "normalized_lease_charge_lines",
    "normalized_lease_credits",
    "normalized_lease_credit_lines",
    "normalized_lease_payments",
    "normalized_lease_reversed_payments",
    "normalized_lease_reversed_payment_lines",
)
SNAPSHOT_SQL: str = resources.files(__package__).joinpath("snapshot.sql").read_text(encoding="utf-8")

_COLUMNS = ("as_of_date", "scope", "property_id", *KPI_COLUMNS)


def write_snapshot(conn: psycopg.Connection, start: dt.date, end: dt.date) -> dict[str, int]:
    """Replace the snapshot rows of ``start`` … ``end`` with freshly computed ones (one transaction).

    Returns the rows deleted and inserted; unchanged rows are rewritten identically.
    """
    insert = sql.SQL("INSERT INTO kpi_daily_snapshot ({cols}) {rows}").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)), rows=sql.SQL(SNAPSHOT_SQL)
    )
    params = {"start": start, "end": end}
    with conn.transaction():
        deleted = conn.execute(
            "DELETE FROM kpi_daily_snapshot WHERE as_of_date BETWEEN %(start)s AND %(end)s", params
        ).rowcount
        inserted = conn.execute(insert, params).rowcount
    return {"deleted": deleted, "inserted": inserted}
