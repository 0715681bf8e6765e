"""``altus normalize``, ``altus kpis`` and ``altus views refresh``: the layers built from raw."""

from __future__ import annotations

import datetime as dt

import click

from altus_pipeline.cli.report import report
from altus_pipeline.cli.session import Session, date_range_option
from altus_pipeline.doorloop.registry import DERIVED_ENTITIES


def run_normalize(entity_names: tuple[str, ...], session: Session | None = None) -> bool:
    """Build the normalized tables of ``entity_names`` (all when empty)."""
    from altus_pipeline.runner import normalize  # loads Dagster

    session = session or Session()
    return report("normalized", normalize(session.defs, session.instance, entity_names, raise_on_error=False))


def run_kpis(dates: tuple[dt.date, dt.date] | None, session: Session | None = None) -> bool:
    """Compute kpi_daily_snapshot for ``dates`` (the last 30 days up to today's partition when None)."""
    from altus_pipeline.partitions import full_range  # loads Dagster
    from altus_pipeline.runner import kpis

    if dates is None:
        first, last = full_range()
        dates = (max(first, last - dt.timedelta(days=29)), last)
    session = session or Session()
    return report(f"kpis {dates[0]}..{dates[1]}", kpis(session.defs, session.instance, dates, raise_on_error=False))


def run_refresh_views(session: Session | None = None) -> bool:
    """Refresh kpi_summary's views and every get_full_* view."""
    from altus_pipeline.runner import refresh_views  # loads Dagster

    session = session or Session()
    return report("views", refresh_views(session.defs, session.instance, raise_on_error=False))


def _run_stale_kpis() -> bool:
    from altus_pipeline.kpi.recompute import recompute_stale  # loads Dagster

    session = Session()
    with session.warehouse.connect() as conn:
        summary = recompute_stale(session.defs, session.instance, conn)
    if summary is None:
        click.echo("kpi_daily_snapshot: nothing stale (no raw change since the KPI runs that cover it)")
        return True
    meta = summary.materializations.get("kpi_daily_snapshot", {})
    return report(f"kpis {meta.get('first_date', '?')}..{meta.get('last_date', '?')} (stale, views refreshed)", summary)


@click.command("normalize")
@click.option(
    "--entity",
    "entity_names",
    multiple=True,
    help="Entity whose normalized tables to build (repeatable; "
    f"{', '.join(map(repr, DERIVED_ENTITIES))} too); default all.",
)
def normalize_command(entity_names: tuple[str, ...]) -> None:
    """Build the normalized tables from the raw tables through the Dagster Definitions."""
    from altus_pipeline.normalized.spec import tables_for  # builds the spec: not for `altus --help`

    try:
        tables_for(list(entity_names))
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--entity") from None
    if not run_normalize(entity_names):
        raise SystemExit(1)


@click.command("kpis")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First as-of date (default: 30 days ago).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last as-of date (default: today).")
@click.option(
    "--stale",
    is_flag=True,
    help="Recompute the dates raw changes made stale (from the earliest changed "
    "business date to today), with normalized first and the views after.",
)
def kpis_command(start, end, stale: bool) -> None:
    """Compute kpi_daily_snapshot for a range of as-of dates in one run (one set-based statement)."""
    if stale and (start or end):
        raise click.UsageError("--stale computes its own range: give it without --from/--to")
    if not (_run_stale_kpis() if stale else run_kpis(date_range_option(start, end))):
        raise SystemExit(1)


@click.group()
def views() -> None:
    """The reporting materialized views get_full_*."""


@views.command("refresh")
def views_refresh() -> None:
    """Refresh kpi_summary's views and every get_full_* view (CONCURRENTLY once populated)."""
    if not run_refresh_views():
        raise SystemExit(1)
