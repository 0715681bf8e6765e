"""``altus dev``: the Dagster UI on the instance the CLI uses."""

from __future__ import annotations

import signal
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

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
        raise SystemExit(serve(command, home))


def serve(command: list[str], cwd: Path) -> int:
    """Run ``dagster dev`` until it ends; a SIGTERM sent to ``altus dev`` alone ends it too.

    ``dagster dev`` maps SIGTERM to its SIGINT handler. Started with SIGINT ignored, as a
    script's background job is, it would ignore both and outlive ``altus dev`` (a ``kill``,
    a process manager's stop): the child starts with SIGINT at its default, and a SIGTERM
    this process receives is passed on. Ctrl-C reaches the child from the terminal itself.
    """
    child = subprocess.Popen(command, cwd=cwd, preexec_fn=_interruptible)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    return child.wait()


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
