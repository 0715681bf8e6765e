"""``altus sync``: DoorLoop into the raw tables."""

from __future__ import annotations

import datetime as dt

import click

from altus_pipeline.cli.report import report
from altus_pipeline.cli.session import Session, date_range_option, entities_option


def run_sync(
    entity_names: tuple[str, ...], dates: tuple[dt.date, dt.date] | None, session: Session | None = None
) -> bool:
    """Load the raw tables of ``entity_names`` (all when empty) for ``dates`` (the reconcile when None)."""
    chosen = entities_option(entity_names)  # a bad --entity is a usage error (2) before anything connects
    session = session or Session()  # migrates while Dagster loads
    from altus_pipeline.partitions import full_range  # loads Dagster
    from altus_pipeline.runner import sync_raw

    first, last = dates or full_range()
    layers = ([] if all(e.partitioned for e in chosen) else ["raw master data"]) + (
        [f"raw transactions {first}..{last}" + ("" if dates else " (reconcile)")]
        if any(e.partitioned for e in chosen)
        else []
    )
    summaries = sync_raw(session.defs, chosen, session.instance, dates, raise_on_error=False)
    return all([report(layer, summary) for layer, summary in zip(layers, summaries, strict=True)])


@click.command()
@click.option("--entity", "entity_names", multiple=True, help="Entity to sync (repeatable); default all.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First business date (transactions).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last business date (transactions).")
def sync(entity_names: tuple[str, ...], start, end) -> None:
    """Load DoorLoop into the raw tables through the Dagster Definitions.

    Without --from/--to the transactions are reconciled: every partition, each entity listed
    once without a date filter; a record without a usable business date goes to the DLQ.
    """
    if not run_sync(entity_names, date_range_option(start, end)):
        raise SystemExit(1)
