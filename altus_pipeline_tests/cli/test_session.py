"""A command's session migrates on a thread of its own; what it hands out is migrated, or raises."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from altus_pipeline.cli.session import Session
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import _MIGRATION_LOCK


@pytest.fixture
def broken_schema(pg_url: str):
    """A schema whose raw owners table lacks ``business_date``: migrating it fails on that table's index."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {} (id text)").format(sql.Identifier(schema, "doorloop_raw_owners")))
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def own_dagster_home(pg_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A Dagster home and a storage schema of the test's own, dropped afterwards; the schema's name."""
    schema = f"dagster_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", Warehouse(pg_url, "unused").dagster_storage_url(schema))
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_a_failed_migration_is_raised_by_whatever_needs_the_warehouse(pg_url, broken_schema, own_dagster_home):
    session = Session(Warehouse(pg_url, broken_schema))
    with pytest.raises(psycopg.errors.UndefinedColumn, match="business_date"):
        _ = session.warehouse
    with pytest.raises(psycopg.errors.UndefinedColumn, match="business_date"):
        _ = session.instance


def test_the_warehouse_handed_out_is_migrated(pg_url):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with Session(Warehouse(pg_url, schema)).warehouse.connect() as conn:
            applied = conn.execute("SELECT count(*) FROM doorloop_schema_migrations").fetchone()[0]
            owners = conn.execute("SELECT to_regclass('doorloop_raw_owners') IS NOT NULL").fetchone()[0]
        assert applied > 50 and owners
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_dagsters_storage_is_made_while_the_migration_runs_and_the_instance_waits_for_both(pg_url, own_dagster_home):
    """Dagster's tables do not wait for the warehouse's migration; no run starts before it ends."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))  # the migration waits on it
        session = Session(Warehouse(pg_url, schema))
        handed_out = []
        getter = threading.Thread(target=lambda: handed_out.append(session.instance))
        getter.start()
        deadline = time.monotonic() + 20
        while not _has_table(pg_url, own_dagster_home, "runs") and time.monotonic() < deadline:
            time.sleep(0.05)
        made_meanwhile = _has_table(pg_url, own_dagster_home, "runs")
        waited = getter.is_alive() and not handed_out
        holder.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    getter.join(60)
    try:
        assert made_meanwhile and waited
        assert len(handed_out) == 1 and _has_table(pg_url, schema, "doorloop_schema_migrations")
    finally:
        for instance in handed_out:
            instance.dispose()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _has_table(pg_url: str, schema: str, table: str) -> bool:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',)).fetchone()[0]
