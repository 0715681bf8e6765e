"""Reporting materialized views ``get_full_*``: one asset each, downstream of what it reads.

Each view is created ``WITH NO DATA`` by the migrations, with a unique index on plain
non-null columns; its asset populates it with a plain ``REFRESH`` the first time
(``pg_class.relispopulated`` false) and ``REFRESH … CONCURRENTLY`` afterwards, so readers
are never blocked.
"""

import time
from datetime import UTC, datetime

import dagster as dg
from psycopg import sql

from altus_pipeline.audit import record_run
from altus_pipeline.kpi.compute import LEDGER_TABLES
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.warehouse.db import Warehouse

VIEWS_GROUP = "views"

# view -> (what it reads, the base its row count is held against, description)
VIEWS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "get_full_properties": (
        (
            "normalized_properties",
            "normalized_units",
            "normalized_property_owners",
            "normalized_owners",
            "normalized_portfolio_properties",
            "normalized_portfolios",
        ),
        "SELECT count(*) FROM normalized_properties WHERE gone_at IS NULL",
        "One row per property with unit counts, owners and portfolios.",
    ),
    "get_full_units": (
        ("normalized_units", "normalized_properties", "normalized_lease_units", "normalized_leases"),
        "SELECT count(*) FROM normalized_units WHERE gone_at IS NULL",
        "One row per unit with its property and current active lease.",
    ),
    "get_full_leases": (
        (
            "normalized_leases",
            "normalized_properties",
            "normalized_lease_units",
            "normalized_units",
            "normalized_lease_tenants",
            "normalized_tenants",
        ),
        "SELECT count(*) FROM normalized_leases WHERE gone_at IS NULL",
        "One row per lease with property, units and tenants.",
    ),
    "get_full_tenants": (
        ("normalized_tenants", "normalized_lease_tenants", "normalized_leases"),
        "SELECT count(*) FROM normalized_tenants WHERE gone_at IS NULL",
        "One row per tenant with lease counts and move dates.",
    ),
    "get_full_owners": (
        ("normalized_owners", "normalized_property_owners", "normalized_properties", "normalized_units"),
        "SELECT count(*) FROM normalized_owners WHERE gone_at IS NULL",
        "One row per owner with the properties owned and their shares.",
    ),
    "get_full_work_orders": (
        (
            "normalized_work_orders",
            "normalized_tasks",
            "normalized_properties",
            "normalized_units",
            "normalized_vendors",
        ),
        "SELECT count(*) FROM normalized_work_orders WHERE gone_at IS NULL",
        "One row per work order with its task, property, unit, vendor and timing.",
    ),
    "get_full_rent_roll": (
        (
            "kpi_daily_snapshot",
            "normalized_units",
            "normalized_properties",
            "normalized_leases",
            "normalized_lease_units",
            "normalized_lease_tenants",
            "normalized_tenants",
            *LEDGER_TABLES,
        ),
        "SELECT count(*) FROM normalized_units WHERE active IS TRUE AND gone_at IS NULL",
        "One row per rentable unit as of the latest KPI date: lease, tenants, rents, deposits, balance, status.",
    ),
    "get_full_kpi_by_property": (
        ("kpi_daily_snapshot", "normalized_properties"),
        "SELECT count(*) FROM kpi_daily_snapshot WHERE scope = 'property'",
        "Every property row of kpi_daily_snapshot with the property's name.",
    ),
    "get_full_kpi_by_owner": (
        ("kpi_daily_snapshot", "normalized_property_owners", "normalized_owners", "normalized_properties"),
        "SELECT count(*) FROM kpi_daily_snapshot s JOIN normalized_property_owners po "
        "ON po.property_id = s.property_id WHERE s.scope = 'property'",
        "KPIs per (as_of_date, owner, property), unweighted, with the ownership percentage.",
    ),
    "get_full_kpi_summary": (
        ("kpi_summary",),
        "SELECT count(*) FROM kpi_summary",
        "kpi_summary materialized for dashboards (latest date, portfolio and properties).",
    ),
    "get_full_legal_cases": (
        (
            "legal_cases",
            "legal_case_bills",
            "legal_case_documents",
            "kpi_daily_snapshot",
            "normalized_tenants",
            "normalized_leases",
            "normalized_lease_tenants",
            "normalized_units",
            "normalized_properties",
            "normalized_property_owners",
            "normalized_owners",
            *LEDGER_TABLES,
        ),
        "SELECT count(*) FROM legal_cases",
        "One row per legal case: phase and days in it, tenant, unit, property, owners, the tenant's ledger "
        "balance, billed, paid and outstanding, documents filed.",
    ),
}
VIEW_KEYS: list[str] = list(VIEWS)


def refresh_view(warehouse: Warehouse, name: str) -> dict:
    """Refresh one view: plain the first time, ``CONCURRENTLY`` once populated. Returns metadata."""
    clock = time.monotonic()
    with warehouse.connect(autocommit=True) as conn:
        populated = conn.execute(
            "SELECT c.relispopulated FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = %s AND c.relkind = 'm'",
            (name,),
        ).fetchone()
        if populated is None:
            raise dg.Failure(f"materialized view {name} does not exist (run `altus db migrate`)")
        how = sql.SQL("CONCURRENTLY ") if populated[0] else sql.SQL("")
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {how}{name}").format(how=how, name=sql.Identifier(name)))
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
    return {
        "dagster/row_count": rows,
        "concurrently": bool(populated[0]),
        "duration_seconds": round(time.monotonic() - clock, 3),
    }


def build_view_asset(name: str) -> dg.AssetsDefinition:
    deps, _, description = VIEWS[name]

    @dg.asset(
        name=name,
        group_name=VIEWS_GROUP,
        kinds={"postgres"},
        deps=list(deps),
        description=description,
        metadata={"dagster/table_name": name},
    )
    def _view(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = datetime.now(UTC)
        meta = refresh_view(warehouse.warehouse(), name)
        with warehouse.warehouse().connect() as conn:
            record_run(conn, context.run_id, name, started, meta["dagster/row_count"])
            conn.commit()
        context.log.info(f"{name}: {meta}")
        return dg.MaterializeResult(metadata=meta)

    return _view


view_assets: list[dg.AssetsDefinition] = [build_view_asset(n) for n in VIEWS]
