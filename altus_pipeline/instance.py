"""The Dagster instance the CLI and ``dagster dev`` share.

``DAGSTER_HOME`` defaults to ``.altus/dagster``; its ``dagster.yaml`` comes from the
repository's, so runs started by ``altus`` show in the UI and survive restarts. With a
real warehouse (``ALTUS_DATABASE_URL``) Dagster's storage lives in that database (schema
``dagster``, dagster-postgres), as production needs. With the embedded warehouse it stays
in Dagster's local SQLite files under ``DAGSTER_HOME``: dagster-postgres opens a fresh
connection per event, and a ranged run records several events per partition, which made
a first local backfill about twice as slow.
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


def instance_yaml(postgres_storage: bool = True) -> str:
    """The repository's instance settings, plus storage in the warehouse database if asked."""
    return REPO_DAGSTER_YAML.read_text() + (STORAGE_SECTION if postgres_storage else "")


def prepare_dagster_home(warehouse: Warehouse) -> Path:
    """Set ``DAGSTER_HOME`` (and the storage URL when Dagster stores into the warehouse)."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.project_home() / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    postgres_storage = settings.database_url_override() is not None
    target = home / "dagster.yaml"
    wanted = instance_yaml(postgres_storage)
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    if postgres_storage:
        os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url()
    return home


def dagster_instance(warehouse: Warehouse):
    """The persistent ``DagsterInstance`` (imported lazily: importing dagster costs seconds)."""
    import dagster as dg

    prepare_dagster_home(warehouse)
    return dg.DagsterInstance.get()
