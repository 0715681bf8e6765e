"""Retries: the DLQ state machine, its sensors, the schedules, ``altus dlq`` and the dashboard."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
from click.testing import CliRunner

from altus_pipeline.definitions import build_definitions
from altus_pipeline.dlq.model import Failure, RetryPolicy, payload_hash
from altus_pipeline.dlq.statements import record_failures, request_retry
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.normalized.transform import _live as live_where
from altus_pipeline.resources import DoorLoopResource, WarehouseResource
from altus_pipeline.sandbox.faults import FaultSpec
from altus_pipeline.schedules import DAILY_SCHEDULE, WEEKLY_SCHEDULE
from altus_pipeline.sensors import DLQ_SENSOR, RUN_FAILURE_SENSOR
from altus_pipeline.sensors.launch import launch
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import TOKEN

DAY = dt.date(2026, 10, 31)  # the small dataset's history ends 2026-11-01
DAILY_AT = dt.datetime(2026, 10, 31, 6, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _dlq_policy(monkeypatch):
    monkeypatch.setenv("ALTUS_DLQ_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("ALTUS_DLQ_BACKOFF_BASE_SECONDS", "0")
    monkeypatch.setenv("ALTUS_DLQ_LEASE_SECONDS", "3600")


@pytest.fixture
def instance(request, tmp_path, monkeypatch):
    """The instance ``altus`` runs on: the project's ``dagster.yaml``, storage on PostgreSQL."""
    from altus_pipeline.instance import instance_yaml

    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", request.getfixturevalue("dagster_storage"))
    (tmp_path / "dagster.yaml").write_text(instance_yaml())
    inst = dg.DagsterInstance.from_config(str(tmp_path))
    yield inst
    inst.dispose()


def _resource(wh: Warehouse) -> WarehouseResource:
    return WarehouseResource(database_url=wh.url, schema_name=wh.schema)


def _defs(wh: Warehouse, server, **doorloop) -> dg.Definitions:
    options = {
        "rate_limit_per_minute": 0,
        "rate_limit_per_hour": 0,
        "backoff_base_seconds": 0.01,
        "timeout_seconds": 5.0,
        "max_retries": 1,
    }
    return build_definitions(
        _resource(wh), DoorLoopResource(base_url=server.base_url, token=TOKEN, **{**options, **doorloop})
    )


def tick_dlq(defs, instance, wh, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"warehouse": _resource(wh)}
    )
    data = defs.resolve_sensor_def(DLQ_SENSOR).evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


def tick_run_failure(defs, instance, wh, run_id: str) -> None:
    run = instance.get_run_by_id(run_id)
    event = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name=RUN_FAILURE_SENSOR,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
        resources={"warehouse": _resource(wh)},
    ).for_run_failure()
    defs.resolve_sensor_def(RUN_FAILURE_SENSOR)(context)


def _all(wh: Warehouse, query: str, *params):
    with wh.connect() as conn:
        return conn.execute(query, params).fetchall()


def _live(wh: Warehouse, table: str) -> dict[str, dict]:
    return dict(_all(wh, f'SELECT id, payload FROM "{table}" WHERE deleted_at IS NULL'))


def _expected(records, entity, window=None) -> dict[str, dict]:
    keyed = {r["id"]: r for r in records if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]}
    if window is None or not entity.partitioned:
        return keyed
    start, end = (d.isoformat() for d in window)
    return {i: r for i, r in keyed.items() if start <= str(r.get(entity.date_field))[:10] <= end}


def _daily_request(defs, instance) -> dg.RunRequest:
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=DAILY_AT)
    requests = defs.resolve_schedule_def(DAILY_SCHEDULE).evaluate_tick(context).run_requests
    assert len(requests) == 1
    return requests[0]


# -- the state machine -----------------------------------------------------------------------


def _failure(error_class: str, entity: str = "owners", partition: str | None = None) -> Failure:
    table = ENTITIES[entity].raw_table
    return Failure(
        entity,
        "",
        "extract",
        table,
        partition,
        None,
        payload_hash(f"{table}|{partition}|x"),
        error_class,
        None,
        f"{entity}: boom",
        "run-1",
    )


def _record(wh: Warehouse):
    return _all(
        wh,
        "SELECT status, attempts, next_retry_at IS NOT NULL, next_retry_at - last_seen_at FROM doorloop_error_records",
    )[0]


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=100)
    assert [policy.backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert policy.backoff_seconds(3, jitter=0.5) == 20 and policy.backoff_seconds(3, jitter=1.5) == 60


def test_repeats_bump_attempts_back_off_and_end_dead(warehouse, monkeypatch):
    monkeypatch.setenv("ALTUS_DLQ_BACKOFF_BASE_SECONDS", "100")
    monkeypatch.setenv("ALTUS_DLQ_MAX_ATTEMPTS", "3")
    delays = []
    for attempt in (1, 2, 3):
        with warehouse.connect() as conn:
            record_failures(conn, [_failure("transient")])
            conn.commit()
        status, attempts, due, delay = _record(warehouse)
        assert attempts == attempt
        delays.append(delay)
    assert (status, due) == ("dead", False)
    assert dt.timedelta(seconds=50) <= delays[0] <= dt.timedelta(seconds=150)
    assert dt.timedelta(seconds=100) <= delays[1] <= dt.timedelta(seconds=300)
    assert _all(warehouse, "SELECT count(*) FROM doorloop_error_records")[0][0] == 1


def test_permanent_errors_wait_for_an_explicit_retry(warehouse, monkeypatch):
    with warehouse.connect() as conn:
        record_failures(conn, [_failure("permanent")])
        conn.commit()
        assert _record(warehouse)[:3] == ("open", 1, False)
        assert request_retry(conn, entity="owners") == 1
        conn.commit()
    status, attempts, due, _ = _record(warehouse)
    assert (status, attempts, due) == ("retrying", 1, True)


# -- sensors and schedules ----------------------------------------------------------------------


def test_dlq_sensor_requests_exact_partitions_once(warehouse, sandbox_factory, small_dataset, instance):
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    with warehouse.connect() as conn:
        record_failures(
            conn,
            [
                _failure("transient", "lease_payments", "2026-10-30"),
                _failure("transient", "lease_charges", "2026-10-25...2026-10-31"),
                _failure("transient", "accounts"),
                _failure("permanent", "owners"),
            ],
        )
        conn.commit()
    requests, cursor = tick_dlq(defs, instance, warehouse, None)
    by_asset = {r.asset_selection[0].to_user_string(): r for r in requests}
    assert set(by_asset) == {"doorloop_raw_lease_payments", "doorloop_raw_lease_charges", "doorloop_raw_accounts"}
    assert by_asset["doorloop_raw_lease_payments"].partition_key == "2026-10-30"
    ranged = by_asset["doorloop_raw_lease_charges"].tags
    assert (ranged["dagster/asset_partition_range_start"], ranged["dagster/asset_partition_range_end"]) == (
        "2026-10-25",
        "2026-10-31",
    )
    assert by_asset["doorloop_raw_accounts"].partition_key is None
    assert len({r.run_key for r in requests}) == 3
    assert json.loads(cursor)["requested"] == 3
    # ticking twice with nothing new requests nothing
    for _ in range(2):
        again, cursor = tick_dlq(defs, instance, warehouse, cursor)
        assert again == []
    statuses = dict(_all(warehouse, "SELECT entity, status FROM doorloop_error_records"))
    assert statuses == {
        "lease_payments": "retrying",
        "lease_charges": "retrying",
        "accounts": "retrying",
        "owners": "open",
    }
    # the retries run and succeed: records resolved, then one downstream (normalized, KPI, views) run
    for request in requests:
        assert launch(defs, request, instance).success
    assert {s for (s,) in _all(warehouse, "SELECT status FROM doorloop_error_records WHERE entity <> 'owners'")} == {
        "resolved"
    }
    downstream, cursor = tick_dlq(defs, instance, warehouse, cursor)
    assert len(downstream) == 1 and dg.AssetKey("normalized_accounts") in downstream[0].asset_selection
    assert tick_dlq(defs, instance, warehouse, cursor)[0] == []


def test_run_failure_sensor_records_an_unrecorded_failed_partition_once(
    warehouse, sandbox_factory, small_dataset, instance
):
    server = sandbox_factory(small_dataset, faults=FaultSpec.parse("5xx=1.0"))
    defs = _defs(warehouse, server, max_retries=0)
    request = dg.RunRequest(asset_selection=[dg.AssetKey("doorloop_raw_notes")], partition_key="2026-10-30")
    summary = launch(defs, request, instance)
    assert not summary.success
    rows = _all(warehouse, "SELECT asset_key, partition_key, error_class, run_id FROM doorloop_error_records")
    assert rows == [("doorloop_raw_notes", "2026-10-30", "transient", summary.run_id)]
    tick_run_failure(defs, instance, warehouse, summary.run_id)  # already recorded by the asset: nothing new
    assert len(_all(warehouse, "SELECT 1 FROM doorloop_error_records")) == 1
    with warehouse.connect() as conn:  # as if the run had died before the asset could record it
        conn.execute("DELETE FROM doorloop_error_records")
        conn.commit()
    tick_run_failure(defs, instance, warehouse, summary.run_id)
    tick_run_failure(defs, instance, warehouse, summary.run_id)
    rows = _all(
        warehouse,
        "SELECT asset_key, partition_key, stage, error_class, status, attempts, "
        "next_retry_at IS NOT NULL FROM doorloop_error_records",
    )
    assert rows[0][:5] == ("doorloop_raw_notes", "2026-10-30", "extract", "transient", "open") and rows[0][6]
    assert len(rows) == 1


def test_schedules_ship_stopped_and_request_the_right_ranges(warehouse, sandbox_factory, small_dataset, instance):
    defs = _defs(warehouse, sandbox_factory(small_dataset))
    daily = defs.resolve_schedule_def(DAILY_SCHEDULE)
    weekly = defs.resolve_schedule_def(WEEKLY_SCHEDULE)
    assert daily.default_status == weekly.default_status == dg.DefaultScheduleStatus.STOPPED
    for name in (DLQ_SENSOR, RUN_FAILURE_SENSOR):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED
    request = _daily_request(defs, instance)
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) == (
        "2026-10-25",
        "2026-10-31",
    )
    keys = {k.to_user_string() for k in request.asset_selection}
    assert {e.raw_table for e in ENTITIES.values()} <= keys and "normalized_leases" in keys
    assert "kpi_daily_snapshot" in keys and "get_full_units" in keys
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=DAILY_AT)
    [reconcile] = weekly.evaluate_tick(context).run_requests
    assert reconcile.tags["dagster/asset_partition_range_start"] == "2024-10-01"
    assert reconcile.tags["dagster/asset_partition_range_end"] == "2026-10-31"
    assert {k.to_user_string() for k in reconcile.asset_selection} >= {
        e.raw_table for e in ENTITIES.values() if e.partitioned
    }
    raw = defs.resolve_assets_def("doorloop_raw_accounts")
    assert all(s.freshness_policy is not None for s in raw.specs)
    assert all(s.freshness_policy is not None for s in defs.resolve_assets_def("kpi_daily_snapshot").specs)


# -- acceptance: the daily job under faults, then the sensors until nothing is due -----------------


def test_daily_job_under_faults_then_sensors_until_nothing_is_due(warehouse, sandbox_factory, small_dataset, instance):
    small_dataset["accounts"].append({"id": "", "name": "an account without an id", "type": "ASSET_BANK"})
    faults = FaultSpec.parse("429=1.0:2,5xx=1.0:4,truncate=1.0:2")
    server = sandbox_factory(small_dataset, faults=faults, seed=3, denied_paths=frozenset({"/property-groups"}))
    defs = _defs(warehouse, server)
    daily = launch(defs, _daily_request(defs, instance), instance)
    assert not daily.success
    first = _all(
        warehouse,
        "SELECT asset_key, error_class FROM doorloop_error_records WHERE stage = 'extract' AND run_id = %s",
        daily.run_id,
    )
    failed_steps = {
        e.step_key
        for e in instance.all_logs(daily.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if e.step_key.startswith("doorloop_raw_")
    }
    assert {a for a, _ in first} == failed_steps, "every failed raw step is in the DLQ"
    assert ("doorloop_raw_portfolios", "permanent") in first
    assert sum(1 for _, c in first if c == "transient") >= 2, "the faults failed some listings"

    cursor, pending_failed, ticks = None, [daily.run_id], 0
    while ticks < 15:
        ticks += 1
        for run_id in pending_failed:
            tick_run_failure(defs, instance, warehouse, run_id)
        pending_failed = []
        requests, cursor = tick_dlq(defs, instance, warehouse, cursor)
        if not requests:
            # permanent errors are not retried blindly: the operator asks (altus dlq retry)
            with warehouse.connect() as conn:
                asked = request_retry(conn, entity="portfolios") if _portfolios_status(warehouse) != "dead" else 0
                conn.commit()
            if not asked:
                break
            continue
        for request in requests:
            summary = launch(defs, request, instance)
            if not summary.success:
                pending_failed.append(summary.run_id)
    assert ticks < 15
    assert tick_dlq(defs, instance, warehouse, cursor)[0] == [] and tick_dlq(defs, instance, warehouse, cursor)[0] == []

    window = (DAY - dt.timedelta(days=6), DAY)
    for entity in ENTITIES.values():
        expected = {} if entity.name == "portfolios" else _expected(server.records(entity.name), entity, window)
        assert _live(warehouse, entity.raw_table) == expected, entity.name
    for table in TABLES.values():
        rejected = {
            i
            for (i,) in _all(
                warehouse,
                "SELECT doorloop_id FROM doorloop_error_records WHERE stage = "
                "'normalize' AND entity = %s AND status <> 'resolved'",
                table.entity,
            )
        }
        live = live_where(table).as_string()
        raw_ids = {i for (i,) in _all(warehouse, f'SELECT r.id FROM "{table.raw_table}" r WHERE {live}')}
        loaded = {i for (i,) in _all(warehouse, f'SELECT doorloop_id FROM "{table.name}"')}
        assert loaded | rejected == raw_ids and not loaded & rejected, table.name

    records = _all(
        warehouse,
        "SELECT entity, stage, error_class, status, attempts FROM doorloop_error_records "
        "WHERE stage IN ('extract', 'validate') ORDER BY entity, stage",
    )
    assert ("portfolios", "extract", "permanent", "dead", 4) in records
    assert ("accounts", "validate", "validation", "open") in [r[:4] for r in records]
    transient = [r for r in records if r[2] == "transient"]
    assert transient and all(r[3] == "resolved" for r in transient)
    duplicates = _all(
        warehouse,
        "SELECT asset_key, partition_key, stage, count(*) FROM doorloop_error_records "
        "WHERE stage = 'extract' GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )
    assert duplicates == []
    dashboard = _all(
        warehouse,
        "SELECT entity, stage, status, attempt_bucket, records, oldest_open_age_overall "
        "FROM get_full_dlq_retry_dashboard",
    )
    assert ("portfolios", "extract", "dead", "3-4", 1) in [r[:5] for r in dashboard]
    assert all(r[5] is not None and r[5] >= dt.timedelta(0) for r in dashboard)  # the open validate record's age


def _portfolios_status(wh: Warehouse) -> str:
    return _all(wh, "SELECT status FROM doorloop_error_records WHERE entity = 'portfolios'")[0][0]


# -- validation errors fixed upstream ------------------------------------------------------------


def test_validation_errors_fixed_in_the_dataset_are_resolved_by_the_next_retry(
    warehouse, sandbox_factory, small_dataset, instance
):
    small_dataset["accounts"].append({"id": "", "name": "an account without an id", "type": "ASSET_BANK"})
    unit = small_dataset["units"][0]
    good_rent = unit.get("marketRent")
    unit["marketRent"] = "twelve hundred"
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    keys = ["doorloop_raw_accounts", "doorloop_raw_units", "doorloop_raw_properties"]
    keys += [o for t in ("normalized_properties", "normalized_units", "normalized_accounts") for o in TABLES[t].objects]
    summary = launch(defs, dg.RunRequest(asset_selection=[dg.AssetKey(k) for k in keys]), instance)
    assert summary.materializations
    ids = dict(_all(warehouse, "SELECT stage, id FROM doorloop_error_records WHERE status = 'open'"))
    assert set(ids) == {"validate", "normalize"}
    assert tick_dlq(defs, instance, warehouse, None)[0] == [], "validation errors are not retried blindly"

    server.mutate(
        "accounts", delete_ids=[""], upsert=[{"id": "acct-fixed-1", "name": "the fixed account", "type": "ASSET_BANK"}]
    )
    fixed = dict(unit, marketRent=good_rent if good_rent is not None else 1200)
    server.mutate("units", upsert=[fixed])
    runner = CliRunner()
    from altus_pipeline.dlq.commands import dlq

    env = {"ALTUS_DATABASE_URL": warehouse.url, "ALTUS_SCHEMA": warehouse.schema}
    for record_id in ids.values():
        result = runner.invoke(dlq, ["retry", "--id", str(record_id)], env=env)
        assert result.exit_code == 0 and "1 record(s) due" in result.output, result.output
    requests, _ = tick_dlq(defs, instance, warehouse, None)
    selections = sorted(sorted(k.to_user_string() for k in r.asset_selection) for r in requests)
    assert selections == [["doorloop_raw_accounts"], ["doorloop_raw_units", "normalized_units"]]
    for request in requests:
        assert launch(defs, request, instance).success
    statuses = dict(_all(warehouse, "SELECT stage, status FROM doorloop_error_records"))
    assert statuses == {"validate": "resolved", "normalize": "resolved"}
    assert "acct-fixed-1" in _live(warehouse, "doorloop_raw_accounts")


def test_dlq_cli_lists_and_ignores(warehouse):
    from altus_pipeline.dlq.commands import dlq

    with warehouse.connect() as conn:
        record_failures(conn, [_failure("permanent", "owners"), _failure("transient", "accounts")])
        conn.commit()
    env = {"ALTUS_DATABASE_URL": warehouse.url, "ALTUS_SCHEMA": warehouse.schema}
    runner = CliRunner()
    listed = runner.invoke(dlq, ["list", "--entity", "owners"], env=env)
    assert listed.exit_code == 0 and "owners" in listed.output and "accounts" not in listed.output
    owners_id = _all(warehouse, "SELECT id FROM doorloop_error_records WHERE entity = 'owners'")[0][0]
    ignored = runner.invoke(dlq, ["ignore", str(owners_id), "--reason", "role has no owners access"], env=env)
    assert ignored.exit_code == 0, ignored.output
    assert _all(warehouse, "SELECT status, note FROM doorloop_error_records WHERE id = %s", owners_id) == [
        ("ignored", "role has no owners access")
    ]
    assert runner.invoke(dlq, ["retry", "--id", str(owners_id)], env=env).output.startswith("0 record(s)")
    with warehouse.connect() as conn:  # the same failure again: stays ignored
        record_failures(conn, [_failure("permanent", "owners")])
        conn.commit()
    assert _all(warehouse, "SELECT status FROM doorloop_error_records WHERE id = %s", owners_id) == [("ignored",)]
    open_only = runner.invoke(dlq, ["list", "--status", "open"], env=env)
    assert "accounts" in open_only.output and "owners" not in open_only.output


def test_dlq_retry_now_runs_the_retry_without_a_daemon(
    warehouse, sandbox_factory, small_dataset, dagster_storage, tmp_path, monkeypatch
):
    from altus_pipeline.dlq.commands import dlq

    monkeypatch.setenv("ALTUS_DAGSTER_STORAGE_URL", dagster_storage)  # restored afterwards

    server = sandbox_factory(small_dataset)
    with warehouse.connect() as conn:
        record_failures(conn, [_failure("permanent", "accounts")])
        conn.commit()
    env = {
        "ALTUS_DATABASE_URL": warehouse.url,
        "ALTUS_SCHEMA": warehouse.schema,
        "ALTUS_HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "DOORLOOP_BASE_URL": server.base_url,
        "DOORLOOP_API_TOKEN": TOKEN,
        "DOORLOOP_RATE_LIMIT_PER_MINUTE": "off",
        "DOORLOOP_RATE_LIMIT_PER_HOUR": "off",
    }
    result = CliRunner().invoke(dlq, ["retry", "--entity", "accounts", "--now"], env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "doorloop_raw_accounts" in result.output and "success" in result.output
    assert _all(warehouse, "SELECT status FROM doorloop_error_records") == [("resolved",)]
    assert len(_live(warehouse, "doorloop_raw_accounts")) == len(small_dataset["accounts"])
