"""A command's session migrates on a thread of its own; what it hands out is migrated, or raises."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from altus_pipeline.cli.session import Session
from altus_pipeline.warehouse.db import Warehouse


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


def test_a_failed_migration_is_raised_by_whatever_needs_the_warehouse(pg_url, broken_schema):
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
