"""``altus runs``: Dagster's run storage in the warehouse database."""

from __future__ import annotations

import click

from altus_pipeline.warehouse.db import Warehouse


@click.group()
def runs() -> None:
    """Dagster's runs, stored in the warehouse database (schema dagster)."""


@runs.command("prune")
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    help="Keep finished runs younger than this (default: ALTUS_RUN_RETENTION_DAYS, else 7); "
    "older ones go unless still the latest of something.",
)
def runs_prune(keep_days: int | None) -> None:
    """Delete old finished runs with their events and check executions (Dagster OSS never does)."""
    from altus_pipeline.instance import dagster_instance  # loads Dagster
    from altus_pipeline.retention import prune_runs, retention_days

    keep_days = keep_days or retention_days()
    result = prune_runs(dagster_instance(Warehouse.from_env()), keep_days)
    click.echo(
        f"deleted {result.runs_deleted} run(s) older than {keep_days} days; kept {result.runs_kept} "
        f"that still hold the latest materialization or check; removed {result.stale_check_rows_deleted} "
        "stale per-partition check row(s)"
    )
