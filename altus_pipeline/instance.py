"""The Dagster instance the CLI and ``dagster dev`` share.

``DAGSTER_HOME`` defaults to ``<project home>/dagster``; its ``dagster.yaml`` is the
repository's with the project home pinned, so runs started by ``altus`` show in the UI and
survive restarts. Dagster's storage lives in the warehouse database (schema ``dagster``,
dagster-postgres), the embedded one included, found by ``instance_storage.WarehouseStorage``
the way the CLI finds it.

A ranged run records events per partition of every asset. Two settings Dagster reads
from the environment (``EVENT_SETTINGS``) make that cheap: events of a ranged output are
written in one batch, and the run plans each asset once for its partition range instead
of once per partition. A 755-day backfill of three assets took 92 s of Dagster
bookkeeping without them and 2.5 s with them. The cost: when such a run fails, Dagster
does not mark its partitions failed in the UI (they show as missing); the run-failure
sensor still records them in the dead-letter queue, which is what retries them.
"""

from __future__ import annotations

import os
from pathlib import Path

from altus_pipeline import settings
from altus_pipeline.project_files import project_file
from altus_pipeline.warehouse.db import Warehouse

REPO_DAGSTER_YAML = project_file("dagster.yaml")
EVENT_SETTINGS = {"DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}


def instance_yaml(home: Path | None = None) -> str:
    """The repository's instance settings, pinned to the project home ``home`` when given.

    The pin makes a process that resolves another home refuse (``settings.require_home``)
    instead of starting a second embedded PostgreSQL next to the real one.
    """
    import yaml

    config = yaml.safe_load(REPO_DAGSTER_YAML.read_text())
    if home is not None:
        config["storage"]["custom"]["config"] = {"altus_home": str(home)}
    return yaml.safe_dump(config, sort_keys=False)


def apply_event_settings() -> None:
    """Batch a ranged run's events and plan each asset once per run (unless set otherwise).

    Dagster reads these where runs are created and executed: this process, and the
    ``dagster dev`` it starts inherits them.
    """
    for name, value in EVENT_SETTINGS.items():
        os.environ.setdefault(name, value)


def dagster_home() -> Path:
    """``DAGSTER_HOME``, by default ``<project home>/dagster`` (made absolute, as Dagster requires)."""
    return Path(os.environ.get("DAGSTER_HOME") or settings.project_home() / "dagster").expanduser().resolve()


def prepare_dagster_home(warehouse: Warehouse) -> Path:
    """Write the instance settings to ``DAGSTER_HOME`` and export it for this process and its children.

    ``warehouse`` has been resolved (and its embedded server started) by the caller; the
    instance's storage resolves the same one by the same rule.
    """
    home = dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = instance_yaml(settings.project_home())
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    apply_event_settings()
    return home


def dagster_instance(warehouse: Warehouse):
    """The persistent ``DagsterInstance`` (imported lazily: importing dagster costs seconds)."""
    import dagster as dg

    prepare_dagster_home(warehouse)
    return dg.DagsterInstance.get()
