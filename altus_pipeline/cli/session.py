"""What every command that touches the warehouse starts from: the migrated warehouse, then on
demand the Dagster instance and the Definitions.

Each command used to repeat the same preamble; here it is once. The Definitions are built
when first asked for, after the command has settled its settings (``altus demo`` points
DoorLoop and the partitions at its sandbox first), and at most once per command.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING

import click

from altus_pipeline.doorloop.registry import ENTITIES, Entity, entity
from altus_pipeline.warehouse.db import Warehouse

if TYPE_CHECKING:
    import datetime as dt

    import dagster as dg


class Session:
    """One command's warehouse (migrated), Dagster instance and Definitions.

    The migration runs on a thread of its own from the start: a first one waits half a
    second or more on PostgreSQL creating the schema, time the command spends importing
    Dagster and building the Definitions meanwhile. Whatever touches the warehouse or runs
    assets waits for it (``warehouse``, ``instance``), and a failed migration raises there.
    """

    def __init__(self, warehouse: Warehouse | None = None) -> None:
        from altus_pipeline.warehouse.migrations import migrate  # reads sql/ and the specs: not for `altus --help`

        self._unmigrated = warehouse or Warehouse.from_env()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="altus-migrate")
        self._migration = pool.submit(migrate, self._unmigrated)
        pool.shutdown(wait=False)  # its one thread ends with the migration

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse, once migrated."""
        self._migration.result()
        return self._unmigrated

    @cached_property
    def instance(self) -> dg.DagsterInstance:
        """The Dagster instance, once the warehouse is migrated too.

        Dagster's storage has a schema of its own, which the migration does not touch: a
        first command creates its tables (half a second of PostgreSQL's work) while the
        migration still runs. Runs write the warehouse, so none gets the instance earlier.
        """
        from altus_pipeline.instance import dagster_instance  # reads the instance settings: only when a run needs it

        instance = dagster_instance(self._unmigrated)
        self._migration.result()
        return instance

    @cached_property
    def defs(self) -> dg.Definitions:
        from altus_pipeline.definitions import build_definitions  # loads Dagster: only for commands that run assets

        return build_definitions()


def entities_option(names: tuple[str, ...]) -> list[Entity]:
    """``--entity`` values as registry entities (all when none), a usage error for an unknown name."""
    try:
        return [entity(n) for n in names] if names else list(ENTITIES.values())
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--entity") from None


def date_range_option(start, end) -> tuple[dt.date, dt.date] | None:
    """``--from``/``--to`` as dates, refused at once (with the valid bounds) outside the partitions."""
    if (start is None) != (end is None):
        raise click.UsageError("--from and --to go together")
    if start is None:
        return None
    from altus_pipeline.partitions import PartitionRangeError, check_range  # loads Dagster

    if end.date() < start.date():
        raise click.UsageError("--to is before --from")
    try:
        return check_range(start.date(), end.date())
    except PartitionRangeError as exc:
        raise click.UsageError(str(exc)) from None
