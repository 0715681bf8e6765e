"""The Dagster instance the CLI and ``dagster dev`` share.

``DAGSTER_HOME`` defaults to ``.altus/dagster``; its ``dagster.yaml`` comes from the
repository's, so runs started by ``altus`` show in the UI and survive restarts. Dagster's
storage lives in the warehouse database (schema ``dagster``, dagster-postgres), the
embedded one included, as production needs.

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
from altus_pipeline.warehouse.db import Warehouse

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
STORAGE_SECTION = """
storage:
  postgres:
    postgres_url:
      env: ALTUS_DAGSTER_STORAGE_URL
"""
EVENT_SETTINGS = {"DAGSTER_EVENT_BATCH_SIZE": "1000", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}


def instance_yaml() -> str:
    """The repository's instance settings plus storage in the warehouse database."""
    return REPO_DAGSTER_YAML.read_text() + STORAGE_SECTION


def apply_event_settings() -> None:
    """Batch a ranged run's events and plan each asset once per run (unless set otherwise).

    Dagster reads these where runs are created and executed: this process, and the
    ``dagster dev`` it starts inherits them.
    """
    for name, value in EVENT_SETTINGS.items():
        os.environ.setdefault(name, value)


def prepare_dagster_home(warehouse: Warehouse) -> Path:
    """Set ``DAGSTER_HOME``, the storage URL and the event settings."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.project_home() / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = instance_yaml()
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url()
    apply_event_settings()
    return home


def dagster_instance(warehouse: Warehouse):
    """The persistent ``DagsterInstance`` (imported lazily: importing dagster costs seconds)."""
    import dagster as dg

    prepare_dagster_home(warehouse)
    return dg.DagsterInstance.get()
