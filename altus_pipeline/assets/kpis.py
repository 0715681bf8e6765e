"""KPI assets: ``kpi_daily_snapshot`` (daily-partitioned by as-of date) and ``kpi_summary``.

A run for one date or a range of dates (a single-run backfill) computes the whole range in
one set-based statement (``altus_pipeline.kpi.compute``) and replaces those dates' rows in
one transaction, so recomputing a past date from the same data gives the same row.
"""

import time
from datetime import UTC, datetime

import dagster as dg

from altus_pipeline.audit import record_audit, record_run
from altus_pipeline.kpi.compute import KPI_COLUMNS, LEDGER_TABLES, write_snapshot
from altus_pipeline.partitions import partition_dates
from altus_pipeline.raw.load import LoadResult
from altus_pipeline.resources import WarehouseResource

KPI_GROUP = "kpi"
SNAPSHOT = "kpi_daily_snapshot"
SUMMARY = "kpi_summary"
# The normalized tables the KPI statement reads.
KPI_SOURCES: tuple[str, ...] = (
    "normalized_properties",
    "normalized_units",
    "normalized_leases",
    "normalized_lease_units",
    "normalized_lease_tenants",
    *LEDGER_TABLES,
    "normalized_tasks",
)

_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("as_of_date", "date", description="the as-of date D (the partition key)"),
        dg.TableColumn("scope", "text", description="property | portfolio"),
        dg.TableColumn("property_id", "uuid", description="NULL on the portfolio row"),
        *(dg.TableColumn(c, "numeric") for c in KPI_COLUMNS),
    ]
)


def build_kpi_snapshot(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """``kpi_daily_snapshot``, partitioned by as-of date with ``partitions``."""

    @dg.asset(
        name=SNAPSHOT,
        group_name=KPI_GROUP,
        kinds={"postgres"},
        deps=list(KPI_SOURCES),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Every KPI of docs/kpis.md per (as_of_date, scope, property); a range of "
        "dates is computed in one set-based statement.",
        metadata={"dagster/table_name": SNAPSHOT, "dagster/column_schema": _SCHEMA},
    )
    def kpi_daily_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        start, end = partition_dates(context)
        started = datetime.now(UTC)
        clock = time.monotonic()
        with warehouse.warehouse().connect() as conn:
            counts = write_snapshot(conn, start, end)
            total = conn.execute("SELECT count(*) FROM kpi_daily_snapshot").fetchone()[0]
            key = start.isoformat() if start == end else f"{start.isoformat()}...{end.isoformat()}"
            record_audit(
                conn,
                context.run_id,
                SNAPSHOT,
                key,
                started,
                LoadResult(
                    rows_listed=counts["inserted"],
                    inserted=counts["inserted"],
                    updated=0,
                    unchanged=0,
                    soft_deleted=0,
                    rejected=0,
                    rows_in_table=total,
                ),
            )
            conn.commit()
        seconds = round(time.monotonic() - clock, 3)
        context.log.info(f"kpi_daily_snapshot {start}..{end}: {counts['inserted']} rows in {seconds}s")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": total,
                "rows_written": counts["inserted"],
                "rows_replaced": counts["deleted"],
                "first_date": start.isoformat(),
                "last_date": end.isoformat(),
                "duration_seconds": seconds,
            }
        )

    return kpi_daily_snapshot


@dg.asset(
    name=SUMMARY,
    group_name=KPI_GROUP,
    kinds={"postgres"},
    deps=[SNAPSHOT, "normalized_properties"],
    description="The latest as_of_date of kpi_daily_snapshot: the portfolio row and one row per property (a view).",
    metadata={"dagster/table_name": SUMMARY},
)
def kpi_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = datetime.now(UTC)
    with warehouse.warehouse().connect() as conn:
        rows, as_of = conn.execute("SELECT count(*), max(as_of_date) FROM kpi_summary").fetchone()
        record_run(conn, context.run_id, SUMMARY, started, rows)
        conn.commit()
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "as_of_date": str(as_of)})


def build_kpi_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The KPI assets, the snapshot partitioned by ``partitions``."""
    return [build_kpi_snapshot(partitions), kpi_summary]
