"""`altus db grant-reader`: a login role that reads the KPI tables and get_full_* views, nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from altus_pipeline.cli.main import main
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate, sql_objects
from altus_pipeline.warehouse.reader import ReaderError, grant_reader, reporting_objects

PASSWORD = "reader-pw-7c41e0"
CLOSED = (
    "doorloop_raw_leases",
    "doorloop_raw_work_orders",
    "normalized_leases",
    "legal_case_import_staging",
    "doorloop_error_records",
    "doorloop_pipeline_audit",
    "doorloop_api_call_log",
    "doorloop_schema_migrations",
)


@pytest.fixture
def role(pg_url: str) -> Iterator[str]:
    """A role name of its own; the role, its grants and policies are dropped afterwards."""
    name = f"reader_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def reporting(pg_url: str) -> Iterator[str]:
    name = f"reporting_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _populate(warehouse: Warehouse) -> None:
    """A KPI row, and every materialized view populated (an unpopulated one refuses every reader)."""
    with warehouse.connect() as conn:
        required = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'kpi_daily_snapshot'::regclass AND attnum > 0 "
                "AND attnotnull AND attname NOT IN ('as_of_date', 'scope') ORDER BY attnum"
            )
        ]
        conn.execute(
            sql.SQL(
                "INSERT INTO kpi_daily_snapshot (as_of_date, scope, {}) VALUES (current_date, 'portfolio', {})"
            ).format(
                sql.SQL(", ").join(map(sql.Identifier, required)), sql.SQL(", ").join([sql.Literal(0)] * len(required))
            )
        )
    _refresh(warehouse)


def _refresh(warehouse: Warehouse) -> None:
    with warehouse.connect() as conn:
        for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'm' AND relnamespace = current_schema()::regnamespace"
        ).fetchall():
            conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(name)))


def _as(pg_url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(pg_url, user=role, password=PASSWORD, autocommit=True)


def _reads(conn: psycopg.Connection, schema: str, name: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))).fetchone()[0]


def _refused(conn: psycopg.Connection, schema: str, name: str) -> bool:
    try:
        _reads(conn, schema, name)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_reader_logs_in_reads_every_reporting_object_and_nothing_else(warehouse, pg_url, role, dagster_storage):
    _populate(warehouse)
    grant = grant_reader(warehouse, role, create=True, password=PASSWORD)
    expected = sorted(o.name for o in sql_objects() if o.layer in ("kpi", "views"))
    assert sorted(grant.objects) == expected and "kpi_daily_snapshot" in expected and "get_full_units" in expected
    with _as(pg_url, role) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role
        for name in expected:
            _reads(conn, warehouse.schema, name)
        assert _reads(conn, warehouse.schema, "kpi_daily_snapshot") == 1
        closed = [(warehouse.schema, n) for n in CLOSED] + [("dagster", "runs"), ("dagster", "event_logs")]
        assert [f"{s}.{n}" for s, n in closed if not _refused(conn, s, n)] == []


def test_grant_reader_is_idempotent_and_the_reporting_schema_reads_through_rls(warehouse, pg_url, role, reporting):
    _populate(warehouse)
    first = grant_reader(warehouse, role, create=True, password=PASSWORD, reporting_schema=reporting)
    again = grant_reader(warehouse, role, create=True, reporting_schema=reporting)
    assert first.created and not again.created and again.rls_tables == ("kpi_daily_snapshot",)
    with _as(pg_url, role) as conn:
        for name in reporting_objects():
            _reads(conn, reporting, name)
        assert _reads(conn, reporting, "kpi_daily_snapshot") == 1
        assert _refused(conn, warehouse.schema, "doorloop_error_records")
    other = sql.Identifier(f"{role}_other")
    with warehouse.connect(autocommit=True) as conn:  # SELECT granted by hand, no read policy: RLS shows no rows
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(other, sql.Literal(PASSWORD)))
        try:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(warehouse.schema), other))
            conn.execute(sql.SQL("GRANT SELECT ON kpi_daily_snapshot TO {}").format(other))
            with _as(pg_url, f"{role}_other") as as_other:
                assert _reads(as_other, warehouse.schema, "kpi_daily_snapshot") == 0
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(other))
            conn.execute(sql.SQL("DROP ROLE {}").format(other))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        security_invoker = conn.execute(
            "SELECT bool_and('security_invoker=true' = ANY(c.reloptions)), count(*) FROM pg_class c "
            "WHERE c.relnamespace = %s::regnamespace",
            (reporting,),
        ).fetchone()
        assert security_invoker == (True, len(reporting_objects()))


def test_a_migration_that_rebuilds_the_views_keeps_the_readers_access(warehouse, pg_url, role, reporting):
    _populate(warehouse)
    grant_reader(warehouse, role, create=True, password=PASSWORD, reporting_schema=reporting)
    with warehouse.connect() as conn:  # as if sql/normalized/ had changed: the layer and every view on it rebuild
        conn.execute(
            "UPDATE doorloop_schema_migrations SET checksum = 'changed' WHERE object_name = 'normalized_units'"
        )
    applied = migrate(warehouse)
    assert "get_full_units" in applied and "normalized_units" in applied
    _refresh(warehouse)
    with _as(pg_url, role) as conn:
        _reads(conn, warehouse.schema, "get_full_units")
        _reads(conn, reporting, "get_full_units")
        assert _refused(conn, warehouse.schema, "normalized_units")


def test_refusals_name_the_problem(warehouse, role):
    with pytest.raises(ReaderError, match=f"role {role} does not exist: pass --create"):
        grant_reader(warehouse, role)
    with pytest.raises(ReaderError, match="role postgres is a superuser"):
        grant_reader(warehouse, "postgres")
    with pytest.raises(ReaderError, match="--schema public: use a schema of its own"):
        grant_reader(warehouse, role, create=True, reporting_schema="public")


def test_cli_takes_the_password_from_the_environment_only(warehouse, pg_url, role, monkeypatch):
    monkeypatch.setenv("ALTUS_DATABASE_URL", pg_url)
    monkeypatch.setenv("ALTUS_SCHEMA", warehouse.schema)
    monkeypatch.setenv("READER_PASSWORD", PASSWORD)
    runner = CliRunner()
    result = runner.invoke(main, ["db", "grant-reader", role, "--create", "--password-env", "READER_PASSWORD"])
    assert result.exit_code == 0, result.output
    assert f"role {role} created, reads {len(reporting_objects())} object(s)" in result.output
    assert PASSWORD not in result.output
    again = runner.invoke(main, ["db", "grant-reader", role])
    assert again.exit_code == 0 and "created" not in again.output
    with _as(pg_url, role) as conn:
        _reads(conn, warehouse.schema, "kpi_daily_snapshot")
    unset = runner.invoke(main, ["db", "grant-reader", role, "--create", "--password-env", "NO_SUCH_VAR_H5"])
    assert unset.exit_code == 2 and "NO_SUCH_VAR_H5: that environment variable is not set" in unset.output
    missing = runner.invoke(main, ["db", "grant-reader", f"{role}_x"])
    assert missing.exit_code == 1 and f"role {role}_x does not exist" in missing.output
