"""The Dagster instance the CLI and ``dagster dev`` share.

``DAGSTER_HOME`` defaults to ``.altus/dagster``; its ``dagster.yaml`` comes from the
repository's, and Dagster's storage lives in the warehouse database (schema ``dagster``),
so runs started by ``altus`` show in the UI and survive restarts.
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


def instance_yaml() -> str:
    """The repository's instance settings plus storage in the warehouse database."""
    return REPO_DAGSTER_YAML.read_text() + STORAGE_SECTION


def prepare_dagster_home(warehouse: Warehouse) -> Path:
    """Set ``DAGSTER_HOME`` and the storage URL in this process's environment."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.project_home() / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = instance_yaml()
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url()
    return home


def dagster_instance(warehouse: Warehouse):
    """The persistent ``DagsterInstance`` (imported lazily: importing dagster costs seconds)."""
    import dagster as dg

    prepare_dagster_home(warehouse)
    return dg.DagsterInstance.get()
