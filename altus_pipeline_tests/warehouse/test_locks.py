"""Writers of one warehouse take turns; writers of two warehouses in one database never wait on each other.

A session that would wait gives up after ``lock_timeout`` (``LockNotAvailable``), so a turn
that is wrongly shared fails the test at once instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.locks import take_turn
from altus_pipeline_tests.conftest import own_warehouse

TABLE = TABLES["normalized_accounts"]


@pytest.fixture
def neighbour(pg_url: str) -> Iterator[Warehouse]:
    """A second warehouse in the same database as ``warehouse``."""
    with own_warehouse(pg_url) as wh:
        yield wh


@contextmanager
def _impatient(wh: Warehouse) -> Iterator[psycopg.Connection]:
    with wh.connect() as conn:
        conn.execute("SET lock_timeout = '1s'")
        yield conn


def _normalize(wh: Warehouse) -> None:
    with _impatient(wh) as conn:
        Normalizer(conn, TABLE, "second").run()
        conn.commit()


def test_a_normalize_waits_for_its_own_warehouse_only(warehouse, neighbour):
    with warehouse.connect() as holder:
        Normalizer(holder, TABLE, "first").run()  # its turn is held until it commits
        _normalize(neighbour)
        with pytest.raises(psycopg.errors.LockNotAvailable):
            _normalize(warehouse)
        holder.rollback()
    _normalize(warehouse)


@pytest.mark.parametrize("scope, name", [("raw", "doorloop_raw_units"), ("legal_import", "")])
def test_a_turn_is_shared_by_one_schema_and_one_scope(warehouse, neighbour, scope, name):
    with warehouse.connect() as holder:
        take_turn(holder, scope, name)
        for wh, other_scope in ((neighbour, scope), (warehouse, "normalize")):
            with _impatient(wh) as conn:
                take_turn(conn, other_scope, name)
        with _impatient(warehouse) as conn, pytest.raises(psycopg.errors.LockNotAvailable):
            take_turn(conn, scope, name)
