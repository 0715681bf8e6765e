"""What a run did, the CLI's way: one line for the layer, one per asset with rejections or
warnings, the checks that did not pass, and on failure what failed, where and what to do."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from altus_pipeline.runner import RunSummary

_NOTED = ("rejected", "duplicates", "warnings", "unresolved_references")


def report(layer: str, summary: RunSummary) -> bool:
    """Print ``summary`` under the name ``layer``; whether the run succeeded."""
    metas = summary.materializations.values()
    records = _records(metas)
    requests = sum(int(m.get("api_requests") or 0) for m in metas)
    parts = [
        f"{len(summary.materializations)}/{summary.selected} assets",
        f"{records:,d} records",
        *([f"{requests:,d} request{'' if requests == 1 else 's'}"] if requests else []),
        f"{summary.seconds:.1f} s",
    ]
    click.echo(f"{layer}: {', '.join(parts)}")
    for key, meta in sorted(summary.materializations.items()):
        noted = [f"{k.replace('_', ' ')} {meta[k]}" for k in _NOTED if meta.get(k)]
        if noted:
            click.echo(f"  {key}: {', '.join(noted)}")
    for line in summary.check_lines():
        click.echo(f"  {line}")
    if not summary.success:
        _explain_failure(layer, summary)
    return summary.success


def _records(metas: Iterable[Mapping[str, Any]]) -> int:
    """The records a layer handled, by the first measure its assets give: listed from DoorLoop for
    the raw layer (a raw view derived from another raw table lists nothing, whatever it holds),
    written for the normalized and KPI layers, the rows of the views otherwise."""
    for key in ("rows_listed", "rows_written", "dagster/row_count"):
        if any(key in m for m in metas):
            return sum(int(m.get(key) or 0) for m in metas)
    return 0


def _explain_failure(layer: str, summary: RunSummary) -> None:
    """Each failed step with its error's first line, the run in the UI and the next step; the
    traceback is in the run's log and behind ``--verbose``."""
    from altus_pipeline.alerts import DEFAULT_UI_URL, UI_ENV  # loads Dagster (already loaded by the run)

    ui = os.environ.get(UI_ENV, "").strip().rstrip("/") or DEFAULT_UI_URL
    for step, error in sorted(summary.errors.items()) or [("run", "failed before any asset did")]:
        click.echo(f"FAILED {layer}: {step}: {error}", err=True)
    click.echo(f"run {summary.run_id}: {ui}/runs/{summary.run_id}", err=True)
    click.echo(
        "next: `altus dlq list` shows the records set aside; the run's log is at the link above; "
        "`altus --verbose ...` prints the traceback",
        err=True,
    )
