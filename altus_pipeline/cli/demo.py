"""``altus demo``: a sandbox account through every layer, then a summary of what landed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.cli.downstream import run_kpis, run_normalize, run_refresh_views
from altus_pipeline.cli.sandbox import SCALE_CHOICE, local_sandbox
from altus_pipeline.cli.session import Session
from altus_pipeline.cli.sync import run_sync
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.warehouse.db import Warehouse

if TYPE_CHECKING:
    from altus_pipeline.runner import RunSummary

_SUMMARY_COLUMNS = (
    ("property_name", "property", 32),
    ("units_total", "units", 6),
    ("units_occupied", "occ", 6),
    ("physical_occupancy", "occ %", 7),
    ("scheduled_rent", "sched rent", 12),
    ("delinquent_balance", "delinquent", 12),
    ("aging_90_plus", "aged 90+", 11),
    ("collection_rate_mtd", "coll mtd", 9),
    ("leases_expiring_30", "exp30", 6),
    ("work_orders_open", "WO open", 8),
)


@click.command()
@click.option("--scale", type=SCALE_CHOICE, default="small", show_default=True)
def demo(scale: str) -> None:
    """Start the embedded PostgreSQL and a sandbox, run the pipeline, print a summary."""
    from altus_pipeline.partitions import full_range  # loads Dagster
    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF

    with local_sandbox(scale):
        session = Session()
        ok = run_sync((), None, session)
    ok = run_normalize((), session) and ok
    # The generated history ends on DEFAULT_AS_OF, the 1st of a month: KPIs from that day on
    # would show a month of rent charged and hardly anyone having paid yet.
    first, today = full_range()
    last = min(today, DEFAULT_AS_OF - dt.timedelta(days=1))
    ok = run_kpis((max(first, last - dt.timedelta(days=59)), last), session) and ok
    warehouse = session.warehouse
    legal = _legal_demo(session, last)  # before the views: get_full_legal_cases shows the cases
    ok = run_refresh_views(session) and ok
    click.echo(f"\nraw and normalized tables in {warehouse.masked_url()} schema {warehouse.schema}:")
    click.echo(f"{'raw table':36s} {'live':>10s} {'deleted':>8s} {'normalized':>11s}")
    for table, live, deleted, normalized in _raw_counts(warehouse):
        click.echo(f"{table:36s} {live:>10,d} {deleted:>8,d} {normalized:>11,d}")
    _print_kpi_summary(warehouse)
    ok = _print_legal_demo(warehouse, *legal) and ok
    if not ok:
        raise SystemExit(1)


def _raw_counts(warehouse: Warehouse) -> list[tuple[str, int, int, int]]:
    """(raw table, live rows, soft-deleted rows, rows of its normalized table) of every entity."""
    rows = []
    with warehouse.connect() as conn:
        for e in ENTITIES.values():
            query = sql.SQL(
                "SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL), "
                "(SELECT count(*) FROM {}) FROM {}"
            ).format(sql.Identifier(f"normalized_{e.name}"), sql.Identifier(e.raw_table))
            live, deleted, normalized = conn.execute(query).fetchone()
            rows.append((e.raw_table, live, deleted, normalized))
    return rows


def _print_kpi_summary(warehouse: Warehouse) -> None:
    """kpi_summary as a readable table: the portfolio first, then properties by name.

    Two properties may share a name (the demo's account has two "Elm Place"): those are
    told apart by their street address, so no row reads as a repeat of another.
    """
    cols = sql.SQL(", ").join(
        sql.SQL(
            "CASE WHEN count(*) OVER (PARTITION BY s.property_name) > 1 AND p.address_street1 IS NOT NULL "
            "THEN s.property_name || ', ' || p.address_street1 ELSE s.property_name END"
        )
        if c == "property_name"
        else sql.SQL("s.{}").format(sql.Identifier(c))
        for c, _, _ in _SUMMARY_COLUMNS
    )
    with warehouse.connect() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT s.as_of_date, {} FROM kpi_summary s LEFT JOIN normalized_properties p ON p.id = s.property_id "
                "ORDER BY s.scope = 'property', 2"
            ).format(cols)
        ).fetchall()
    if not rows:
        click.echo("kpi_summary is empty")
        return
    click.echo(f"\nkpi_summary as of {rows[0][0]}:")
    click.echo(" ".join(f"{h:>{w}s}" if i else f"{h:{w}s}" for i, (_, h, w) in enumerate(_SUMMARY_COLUMNS)))
    for row in rows:
        cells = []
        for i, ((name, _, width), value) in enumerate(zip(_SUMMARY_COLUMNS, row[1:], strict=True)):
            if value is None:
                text = "-"
            elif name in ("physical_occupancy", "collection_rate_mtd"):
                text = f"{value * 100:.1f}%"
            elif name in ("scheduled_rent", "delinquent_balance", "aging_90_plus"):
                text = f"{value:,.2f}"
            else:
                text = str(value)
            cells.append(f"{text[:width]:{width}s}" if i == 0 else f"{text:>{width}s}")
        click.echo(" ".join(cells))


def _legal_demo(session: Session, as_of: dt.date) -> tuple[Path, RunSummary]:
    """Write the sample legal workbook and documents under the project home and import them as
    ``altus legal import`` does: one run of the legal assets, into the local document store
    whatever ALTUS_LEGAL_STORE says (a demo never files into Dropbox)."""
    from altus_pipeline.definitions import build_definitions  # loads Dagster
    from altus_pipeline.legal.sample import write_sample
    from altus_pipeline.resources import LegalStoreResource
    from altus_pipeline.runner import legal_import

    home = settings.project_home()
    with session.warehouse.connect() as conn:
        workbook = write_sample(conn, home / "legal_demo", as_of)
        conn.commit()
    store = LegalStoreResource(kind="local", folder=str(home / "legal_documents"))
    return workbook, legal_import(
        build_definitions(legal_store=store), session.instance, str(workbook), raise_on_error=False, quiet=True
    )


def _print_legal_demo(warehouse: Warehouse, workbook: Path, summary: RunSummary) -> bool:
    """The demo's legal cases by phase; False when their import failed."""
    from altus_pipeline.legal.sample import case_phases  # loads openpyxl

    click.echo(f"\nlegal cases from {workbook} (documents under {settings.project_home() / 'legal_documents'}):")
    meta = summary.materializations.get("legal_cases", {})
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta.items() if k != "workbook"))
    with warehouse.connect() as conn:
        cases = case_phases(conn)
    click.echo(f"{'case':14s} {'phase':20s} {'since':10s} {'documents':>9s}")
    for key, phase, since, documents in cases:
        click.echo(f"{key:14s} {phase:20s} {since.isoformat():10s} {documents:>9d}")
    if not summary.success:
        click.echo(f"legal import FAILED (run {summary.run_id})", err=True)
    return summary.success
