"""``altus docs`` and ``altus roadmap``: the generated data model and the naming roadmap."""

from __future__ import annotations

from pathlib import Path

import click

from altus_pipeline.cli.session import Session
from altus_pipeline.project_files import installed
from altus_pipeline.warehouse.db import Warehouse


@click.command("docs")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page. Default: docs/data_model.md of the checkout; "
    "run from an installed package, ./data_model.md (never into the installed copy).",
)
def docs_command(out: Path | None) -> None:
    """Regenerate docs/data_model.md from the normalized spec and the migrated warehouse's catalog."""
    from altus_pipeline.docs import DATA_MODEL, write  # reads the KPI and normalized specs: not for `altus --help`

    target = out or (Path.cwd() / DATA_MODEL.name if installed() else DATA_MODEL)
    warehouse = Session().warehouse
    click.echo(f"wrote {target}" if write(warehouse, target) else f"{target} is up to date")


@click.group()
def roadmap() -> None:
    """The naming roadmap: roadmap_backend_cleanup_plan.md."""


@roadmap.command("validate")
@click.option("--no-db", is_flag=True, help="Skip the database: check sql/ and the Definitions only.")
def roadmap_validate(no_db: bool) -> None:
    """Hold sql/, the Definitions and the warehouse schema to the plan; one line per violation."""
    from altus_pipeline.definitions import build_definitions  # loads Dagster
    from altus_pipeline.roadmap import PLAN_NAME, validate

    warehouse = None if no_db else Warehouse.from_env()
    violations = validate(build_definitions(), warehouse)
    for violation in violations:
        click.echo(violation)
    if violations:
        raise SystemExit(1)
    scope = "sql/ and the Definitions" + ("" if warehouse is None else f" and schema {warehouse.schema}")
    click.echo(f"roadmap OK: {scope} follow {PLAN_NAME}")
