"""``altus dev``: the Dagster UI on the instance the CLI uses."""

from __future__ import annotations

import subprocess
import sys
from contextlib import nullcontext

import click

from altus_pipeline import settings
from altus_pipeline.cli.sandbox import SCALE_CHOICE, local_sandbox
from altus_pipeline.cli.session import Session


@click.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option(
    "--scale",
    type=SCALE_CHOICE,
    default="small",
    show_default=True,
    help="Sandbox data when DOORLOOP_API_TOKEN is not set.",
)
def dev(port: int, scale: str) -> None:
    """Open the Dagster UI (dagster dev) on the same instance the CLI uses.

    Without DOORLOOP_API_TOKEN a sandbox serves generated data for the session.
    """
    from altus_pipeline.instance import prepare_dagster_home  # reads the instance settings: not for `altus --help`
    from altus_pipeline.project_files import project_file

    home = prepare_dagster_home(Session().warehouse)
    # `dagster dev` is marked superseded by `dg dev` (a separate package): FutureWarning.
    # Run from DAGSTER_HOME so the repository's template dagster.yaml is not mistaken for it.
    command = [
        sys.executable,
        "-W",
        "ignore::FutureWarning",
        "-m",
        "dagster",
        "dev",
        "-w",
        str(project_file("workspace.yaml")),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with nullcontext() if settings.doorloop_token() else local_sandbox(scale):
        raise SystemExit(subprocess.call(command, cwd=home))
