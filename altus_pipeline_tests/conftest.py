"""Shared fixtures: a real PostgreSQL (embedded unless ALTUS_TEST_DATABASE_URL is set),
one fresh schema per test, and DoorLoop sandboxes served over real HTTP."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

# Dagster writes one event per partition of a ranged run; partitions from the start of the
# generated history (not from 2021) keep full syncs in tests to the dates that hold data.
os.environ.setdefault("ALTUS_PARTITION_START", "2024-10-01")

from altus_pipeline.instance import apply_event_settings
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig
from altus_pipeline.warehouse import embedded
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate

if TYPE_CHECKING:
    import dagster as dg

apply_event_settings()  # the instance settings every `altus` process runs with

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-5f1c9e"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a test database on a real PostgreSQL server (stopped afterwards if we started it)."""
    url = os.environ.get("ALTUS_TEST_DATABASE_URL")
    if url:
        yield url
        return
    data_dir = REPO / ".altus" / "test-pgdata"
    yield embedded.create_database(embedded.ensure_server(data_dir), "altus_test")
    embedded.stop_server(data_dir)


@contextmanager
def own_warehouse(pg_url: str) -> Iterator[Warehouse]:
    """A migrated warehouse in a schema of its own, dropped afterwards."""
    wh = Warehouse(url=pg_url, schema=f"t_{uuid.uuid4().hex[:12]}")
    migrate(wh)
    yield wh
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(wh.schema)))


@pytest.fixture
def warehouse(pg_url: str) -> Iterator[Warehouse]:
    """A migrated warehouse in a schema of its own, dropped afterwards."""
    with own_warehouse(pg_url) as wh:
        yield wh


@pytest.fixture(scope="session")
def small_dataset_pristine() -> dict[str, list]:
    from altus_pipeline.sandbox.generator import generate_dataset

    return generate_dataset("small", seed=0)


@pytest.fixture
def small_dataset(small_dataset_pristine: dict[str, list]) -> dict[str, list]:
    """The small generated dataset, a private copy (sandboxes may mutate it)."""
    return copy.deepcopy(small_dataset_pristine)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes on free ports; every one is stopped after the test."""
    started: list[Sandbox] = []

    def start(dataset: dict[str, list], **config: object) -> Sandbox:
        options = {"token": TOKEN, "rate_limit_per_minute": None, "rate_limit_per_hour": None, **config}
        server = Sandbox(dataset, SandboxConfig(**options))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def dagster_storage(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Create Dagster's tables (schema ``dagster`` of the test database) once, before any
    CLI subprocess does, so parallel processes never race to create them."""
    import dagster as dg

    from altus_pipeline.instance import instance_yaml

    storage_url = Warehouse(pg_url, "unused").dagster_storage_url()
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(instance_yaml())
    previous = os.environ.get("ALTUS_DAGSTER_STORAGE_URL")
    os.environ["ALTUS_DAGSTER_STORAGE_URL"] = storage_url
    try:
        dg.DagsterInstance.from_config(str(home)).dispose()
    finally:
        if previous is None:
            del os.environ["ALTUS_DAGSTER_STORAGE_URL"]
        else:
            os.environ["ALTUS_DAGSTER_STORAGE_URL"] = previous
    return storage_url


@pytest.fixture
def dagster_instance(
    dagster_storage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The instance ``altus`` runs on (storage on PostgreSQL): a ranged run over every
    partition records them in batches there, where an in-memory instance takes ~10 ms each
    (``test_sync_equals_dataset_and_a_resync_rewrites_nothing``: 69 s on the in-memory instance, 13 s here)."""
    import dagster as dg

    from altus_pipeline.instance import instance_yaml

    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", dagster_storage)
    (tmp_path / "dagster.yaml").write_text(instance_yaml())
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    yield instance
    instance.dispose()


@pytest.fixture(scope="session")
def installed_altus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``altus`` of a non-editable install of the project into a fresh venv (``support/installed.py``)."""
    from altus_pipeline_tests.support.installed import install

    return install(tmp_path_factory.mktemp("installed")) / "altus"
