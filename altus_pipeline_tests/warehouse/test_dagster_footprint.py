"""Dagster's own storage stays small: it shares the warehouse database (500 MB on Supabase's free tier).

A ranged run records each check once, not once per day of its range; ticks are purged
after the days ``dagster.yaml`` sets; ``prune_runs`` deletes old runs, their events and
check executions, keeping the runs that are still the latest of an asset or a check.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import TickStatus
from psycopg import sql

from altus_pipeline.definitions import build_definitions
from altus_pipeline.instance import instance_yaml
from altus_pipeline.partitions import daily_partitions, range_tags
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.retention import prune_job, prune_runs, prune_schedule
from altus_pipeline.runner import kpis
from altus_pipeline.warehouse.db import Warehouse

KPI = "kpi_daily_snapshot"


@pytest.fixture
def storage(pg_url: str) -> Iterator[tuple[str, str]]:
    """A Dagster storage of this test's own (schema, SQLAlchemy URL), dropped afterwards."""
    schema = f"dagster_{uuid.uuid4().hex[:10]}"
    yield schema, Warehouse(pg_url, "unused").dagster_storage_url(schema)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _instance(home: Path, url: str, monkeypatch, stock: bool = False) -> dg.DagsterInstance:
    """The instance ``altus`` runs on, or (``stock``) plain dagster-postgres on the same tables."""
    home.mkdir()
    if stock:
        text = yaml.safe_dump({"storage": {"postgres": {"postgres_url": url}}, "telemetry": {"enabled": False}})
    else:
        monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", url)
        text = instance_yaml()
    (home / "dagster.yaml").write_text(text)
    return dg.DagsterInstance.from_config(str(home))


def _check_rows(pg_url: str, schema: str, run_id: str) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(
            sql.SQL(
                "SELECT check_name, partition, execution_status FROM {}.asset_check_executions "
                "WHERE run_id = %s ORDER BY check_name"
            ).format(sql.Identifier(schema)),
            (run_id,),
        ).fetchall()


def test_a_ranged_run_records_each_check_once_and_the_ui_sees_it(warehouse, pg_url, storage, tmp_path, monkeypatch):
    schema, url = storage
    instance = _instance(tmp_path / "home", url, monkeypatch)
    project = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    summary = kpis(project, instance, (dt.date(2024, 10, 1), dt.date(2024, 12, 31)))
    assert summary.success and len(summary.checks) == 6
    rows = _check_rows(pg_url, schema, summary.run_id)
    assert len(rows) == 6 and {(p, s) for _, p, s in rows} == {(None, "SUCCEEDED")}, rows
    [latest] = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(KPI), "aging_sums_to_delinquent_balance"), limit=5
    )
    assert latest.run_id == summary.run_id and latest.status.value == "SUCCEEDED"
    instance.dispose()


def test_no_check_is_partitioned():
    """The storage records a planned check once per run: right only while no check has partitions."""
    graph = build_definitions().resolve_asset_graph()
    assert [k for k in graph.asset_check_keys if graph.get(k).partitions_def is not None] == []


def test_ticks_are_purged_after_the_days_dagster_yaml_sets(storage, tmp_path, monkeypatch):
    instance = _instance(tmp_path / "home", storage[1], monkeypatch)
    sensor = instance.get_tick_retention_settings(InstigatorType.SENSOR)
    schedule = instance.get_tick_retention_settings(InstigatorType.SCHEDULE)
    assert sensor[TickStatus.SKIPPED] == 1 and sensor[TickStatus.SUCCESS] == sensor[TickStatus.FAILURE] == 30
    assert schedule[TickStatus.SKIPPED] == 7 and schedule[TickStatus.SUCCESS] == 30
    instance.dispose()


@dg.asset(partitions_def=daily_partitions(), backfill_policy=dg.BackfillPolicy.single_run())
def daily_thing() -> None:
    return None


@dg.asset_check(asset=daily_thing)
def daily_thing_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset
def plain_thing() -> None:
    return None


def test_prune_deletes_old_superseded_runs_and_keeps_the_latest(pg_url, storage, tmp_path, monkeypatch):
    schema, url = storage
    job = dg.Definitions(
        assets=[daily_thing, plain_thing], asset_checks=[daily_thing_ok], jobs=[dg.define_asset_job("things")]
    ).resolve_job_def("things")
    stock = _instance(tmp_path / "stock", url, monkeypatch, stock=True)
    legacy = job.execute_in_process(
        instance=stock, asset_selection=[daily_thing.key], tags=range_tags("2024-10-06", "2024-10-10")
    ).run_id
    stock.dispose()
    instance = _instance(tmp_path / "home", url, monkeypatch)

    def run(keys: list[dg.AssetKey], tags: dict[str, str] | None = None) -> str:
        return job.execute_in_process(instance=instance, asset_selection=keys, tags=tags).run_id

    superseded = run([daily_thing.key], range_tags("2024-10-01", "2024-10-05"))
    latest = run([daily_thing.key], range_tags("2024-10-01", "2024-10-05"))
    plain = run([plain_thing.key])
    assert _check_rows(pg_url, schema, superseded) == [("daily_thing_ok", None, "SUCCEEDED")]
    assert len(_check_rows(pg_url, schema, legacy)) == 6, "stock dagster-postgres: a PLANNED row per day, never done"

    in_60_days = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    assert prune_runs(instance, keep_days=90, now=in_60_days).runs_deleted == 0
    result = prune_runs(instance, keep_days=30, now=in_60_days)
    assert (result.runs_deleted, result.runs_kept) == (1, 3)
    assert instance.get_run_by_id(superseded) is None and _check_rows(pg_url, schema, superseded) == []
    assert all(instance.get_run_by_id(r) is not None for r in (legacy, latest, plain))
    assert [p for _, p, _ in _check_rows(pg_url, schema, legacy)] == [None], "stale per-day rows removed"
    assert instance.get_latest_materialization_event(plain_thing.key).run_id == plain
    assert prune_runs(instance, keep_days=30, now=in_60_days) == type(result)(0, 3, 0)
    assert prune_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert prune_job.execute_in_process(instance=instance).success  # what the daemon runs daily
    assert instance.get_run_by_id(plain) is not None
    instance.dispose()
