"""The ``altus`` command group: options every command shares, and the commands themselves."""

from __future__ import annotations

import atexit
import gc
import logging
import os

import click

from altus_pipeline.cli.db import db
from altus_pipeline.cli.demo import demo
from altus_pipeline.cli.dev import dev
from altus_pipeline.cli.downstream import kpis_command, normalize_command, views
from altus_pipeline.cli.errors import explain
from altus_pipeline.cli.legal import legal
from altus_pipeline.cli.project import docs_command, roadmap
from altus_pipeline.cli.runs import runs
from altus_pipeline.cli.sandbox import sandbox
from altus_pipeline.cli.sync import sync
from altus_pipeline.dlq.commands import dlq

VERBOSE = "altus.verbose"

GC_YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation (default 700)


class _Altus(click.Group):
    """The command group: a failure a user can fix ends in one line (``errors``), not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            line = None if ctx.meta.get(VERBOSE) else explain(exc)
            if line is None:
                raise
            raise click.ClickException(line) from None


@click.group(cls=_Altus, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show Dagster's run log and full tracebacks.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Altus Pipeline: keep a PostgreSQL warehouse in step with DoorLoop."""
    ctx.meta[VERBOSE] = verbose
    # Most of what a command allocates (Dagster's modules, the Definitions, the instance) lives
    # until it exits, yet the default thresholds had the collector traverse all of it five times
    # in an empty-account sync (0.7 s). Young garbage is still collected every 50,000 allocations.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    # At exit the interpreter runs the garbage collector over every object still alive before it
    # frees them: after a sync (Dagster's modules, a ranged run's events) that took a second, for a
    # process about to end. Frozen, they are out of the collector's reach and freed without it;
    # what must be closed is closed by then (connections by their ``with`` blocks and pools, log
    # handlers by ``logging``'s own exit handler, which runs after this one). Registered once per
    # process, however many commands run in it.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    os.environ.setdefault("ALTUS_CONSOLE_LOG_LEVEL", "DEBUG" if verbose else "CRITICAL")
    if not verbose:  # Dagster's storage retries warn per attempt; the one line at the end says what happened
        logging.getLogger().setLevel(logging.ERROR)
        logging.raiseExceptions = False  # a log write failing on a lost database is not a second traceback


@click.command()
def doctor() -> None:
    """Check DoorLoop, the token, the warehouse, the rate budget and Dagster home before a first sync."""
    from altus_pipeline.doctor import run  # reaches DoorLoop and the warehouse: not for `altus --help`

    if not run(click.echo):
        raise SystemExit(1)


for _command in (
    db,
    sandbox,
    sync,
    doctor,
    normalize_command,
    kpis_command,
    views,
    legal,
    demo,
    dev,
    docs_command,
    roadmap,
    runs,
    dlq,
):
    main.add_command(_command)
