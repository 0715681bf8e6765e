"""Warehouse: migrations, the schema rule, the embedded server and the db commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from altus_pipeline import settings
from altus_pipeline.cli.main import main
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.warehouse import embedded
from altus_pipeline.warehouse.db import Warehouse, mask_url
from altus_pipeline.warehouse.migrations import migrate, sql_objects


def _tables(wh: Warehouse) -> set[str]:
    with wh.connect() as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm')",
            (wh.schema,),
        ).fetchall()
    return {r[0] for r in rows}


def test_migrations_create_every_object_in_the_schema_and_are_idempotent(warehouse):
    names = {o.name for o in sql_objects()}
    assert {e.raw_table for e in ENTITIES.values()} <= names
    assert names <= _tables(warehouse)
    assert migrate(warehouse) == [], "a second migrate applies nothing"
    with warehouse.connect() as conn:
        recorded = {r[0] for r in conn.execute("SELECT object_name FROM doorloop_schema_migrations")}
        public = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'doorloop%%'"
        ).fetchone()[0]
    assert recorded == names
    assert public == 0


def test_changed_sql_file_is_reapplied(warehouse, tmp_path, monkeypatch):
    from altus_pipeline.warehouse import migrations

    copy = tmp_path / "sql"
    subprocess.run(["cp", "-r", str(migrations.SQL_DIR), str(copy)], check=True)
    view = copy / "raw" / "doorloop_raw_work_orders.sql"
    view.write_text(view.read_text().replace("last_run_id\nFROM", "last_run_id, 1 AS marker\nFROM"))
    monkeypatch.setattr(migrations, "SQL_DIR", copy)
    assert migrate(warehouse) == ["doorloop_raw_work_orders"]


def test_a_run_after_the_commands_migration_does_not_migrate_again(warehouse, pg_url, monkeypatch):
    """The warehouse resource migrates what this process has not: once per command, not twice."""
    from altus_pipeline.resources import WarehouseResource
    from altus_pipeline.warehouse import migrations

    calls: list[str] = []
    real = migrations.migrate
    monkeypatch.setattr(migrations, "migrate", lambda wh: calls.append(wh.schema) or real(wh))
    assert WarehouseResource(database_url=pg_url, schema_name=warehouse.schema).warehouse() == warehouse
    assert calls == []  # the fixture migrated it in this process
    other = f"{warehouse.schema}_b"
    try:
        for _ in range(2):
            WarehouseResource(database_url=pg_url, schema_name=other).warehouse()
        assert calls == [other]
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(other)))


def _columns(wh: Warehouse, table: str) -> list[str]:
    with wh.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
        ]


def _foreign_keys(wh: Warehouse) -> int:
    with wh.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        ).fetchone()[0]


def test_a_changed_normalized_table_rebuilds_the_layer_and_the_views_on_it(warehouse):
    """A warehouse built by an older release: normalized_accounts lacks a column of today's file."""
    objects = [o.name for o in sql_objects()]
    normalized = [o.name for o in sql_objects() if o.layer == "normalized"]
    columns, foreign_keys = _columns(warehouse, "normalized_accounts"), _foreign_keys(warehouse)
    with warehouse.connect() as conn:
        conn.execute("INSERT INTO doorloop_raw_accounts (id, payload, content_hash) VALUES ('a1', '{}', 'h')")
        conn.execute(
            "INSERT INTO normalized_watermarks (table_name, changed_since) VALUES ('normalized_accounts', now())"
        )
        conn.execute("ALTER TABLE normalized_accounts DROP COLUMN parent_account_id")
        conn.execute(
            "UPDATE doorloop_schema_migrations SET checksum = 'older' WHERE object_name = 'normalized_accounts'"
        )
        conn.commit()

    applied = migrate(warehouse)
    assert set(normalized) <= set(applied)
    assert {"kpi_summary", "get_full_units", "get_full_leases"} <= set(applied)  # views reading normalized tables
    assert not {"doorloop_raw_accounts", "kpi_daily_snapshot", "doorloop_error_records"} & set(applied)
    assert applied == [o for o in objects if o in applied]  # in creation order
    assert _columns(warehouse, "normalized_accounts") == columns
    assert _foreign_keys(warehouse) == foreign_keys
    assert set(objects) <= _tables(warehouse)
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM doorloop_raw_accounts").fetchone()[0] == 1  # raw is kept
        assert conn.execute("SELECT count(*) FROM normalized_watermarks").fetchone()[0] == 0  # all re-read
    assert migrate(warehouse) == []


def test_a_changed_view_alone_is_recreated(warehouse):
    with warehouse.connect() as conn:
        conn.execute("UPDATE doorloop_schema_migrations SET checksum = 'older' WHERE object_name = 'get_full_units'")
        conn.commit()
    assert migrate(warehouse) == ["get_full_units"]


@pytest.mark.parametrize("schema", ["public", "Bad-Name", "x; drop table y"])
def test_schema_setting_refuses_public_and_non_identifiers(monkeypatch, schema):
    monkeypatch.setenv("ALTUS_SCHEMA", schema)
    with pytest.raises(ValueError, match="ALTUS_SCHEMA"):
        settings.warehouse_schema()


def test_masked_url_hides_the_password():
    assert mask_url("postgresql://u:s3cret@db.example:5432/postgres") == "postgresql://u:***@db.example:5432/postgres"


def test_db_url_command_masks_password(monkeypatch):
    monkeypatch.setenv("ALTUS_DATABASE_URL", "postgresql://postgres:hunter2@localhost:5432/postgres")
    result = CliRunner().invoke(main, ["db", "url"])
    assert result.exit_code == 0
    assert "hunter2" not in result.output and "postgres:***@localhost" in result.output


def test_db_migrate_command_against_a_database(pg_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("ALTUS_DATABASE_URL", pg_url)
    monkeypatch.setenv("ALTUS_SCHEMA", "cli_migrate_test")
    first = CliRunner().invoke(main, ["db", "migrate"])
    second = CliRunner().invoke(main, ["db", "migrate"])
    assert first.exit_code == 0 and "object(s) applied" in first.output
    assert second.output.startswith("schema cli_migrate_test: 0 object(s) applied")
    assert "WarehouseStorage" in (tmp_path / "dagster.yaml").read_text()  # the instance a hand-started daemon loads
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA cli_migrate_test CASCADE")


def _url_from_process(data_dir: Path) -> tuple[str, int]:
    code = (
        "import sys, psycopg; from pathlib import Path; from altus_pipeline.warehouse import embedded; "
        "u = embedded.ensure_server(Path(sys.argv[1])); "
        "print(u); print(psycopg.connect(u).execute('select pg_postmaster_start_time()::text').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    url, started = out.stdout.strip().splitlines()
    return url, started


def test_embedded_server_is_reused_across_processes_and_recovers_from_a_crash(tmp_path):
    data = tmp_path / "pgdata"
    try:
        url1, started1 = _url_from_process(data)
        url2, started2 = _url_from_process(data)
        assert (url1, started1) == (url2, started2), "the second process reuses the running server"
        postmaster = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(postmaster, 9)
        _wait_gone(postmaster)
        assert (data / "postmaster.pid").exists(), "the crash leaves a stale pid file behind"
        _, started3 = _url_from_process(data)
        assert started3 != started1, "a crashed server is restarted despite its stale postmaster.pid"
    finally:
        embedded.stop_server(data)


def _wait_gone(pid: int) -> None:
    import time

    import psutil

    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            raise AssertionError(f"postmaster {pid} did not exit")
        time.sleep(0.1)
