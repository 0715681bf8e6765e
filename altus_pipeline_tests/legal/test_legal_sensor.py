"""The legal import on its own: ``legal_workbook_sensor`` and the daily schedule."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from altus_pipeline.assets.legal import LEGAL_IMPORT, LEGAL_KEYS
from altus_pipeline.assets.legal_export import LEGAL_EXPORT
from altus_pipeline.definitions import build_definitions
from altus_pipeline.legal.export import VIEW
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.schedules import DAILY_SCHEDULE
from altus_pipeline.sensors import LEGAL_SENSOR
from altus_pipeline.sensors.launch import launch
from altus_pipeline.sensors.legal import NO_WORKBOOK
from altus_pipeline_tests.dlq.test_retries import instance  # noqa: F401  (``instance`` is a fixture)
from altus_pipeline_tests.legal.test_legal import _all, write_workbook

UNKNOWN_LEASE = "0123456789abcdef01234567"  # a lease DoorLoop does not have (yet): the row waits in error


@pytest.fixture
def defs(warehouse):
    return build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))


def _tick(defs, instance, cursor: str | None) -> tuple[list[dg.RunRequest], str | None, str | None]:  # noqa: F811
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"warehouse": defs.resources["warehouse"]}
    )
    data = defs.resolve_sensor_def(LEGAL_SENSOR).evaluate_tick(context)
    return list(data.run_requests or []), data.cursor, data.skip_message


def _materialized(instance, key: str) -> None:  # noqa: F811
    """A new materialization of a table the import links to, as a normalize run would record it."""
    instance.report_runless_asset_event(dg.AssetMaterialization(key))


def test_sensor_imports_once_per_workbook_change_and_when_refused_rows_may_link(
    defs, instance, warehouse, tmp_path, monkeypatch
):  # noqa: F811
    monkeypatch.delenv("ALTUS_LEGAL_EXPORT_PATH", raising=False)
    monkeypatch.delenv("ALTUS_LEGAL_DOCUMENTS_DIR", raising=False)
    monkeypatch.delenv("ALTUS_LEGAL_WORKBOOK", raising=False)
    assert defs.resolve_sensor_def(LEGAL_SENSOR).default_status == dg.DefaultSensorStatus.STOPPED
    assert _tick(defs, instance, None) == ([], None, NO_WORKBOOK)
    path = tmp_path / "legal" / "cases.xlsx"
    monkeypatch.setenv("ALTUS_LEGAL_WORKBOOK", str(path))
    assert _tick(defs, instance, None)[2] == f"ALTUS_LEGAL_WORKBOOK={path}: no such file"

    path.parent.mkdir()
    header = ["Case Key", "Lease DoorLoop ID", "Phase", "Phase Date"]
    write_workbook(path, [["EV-1", UNKNOWN_LEASE, "referral", "2026-09-01"]], header)
    original = path.read_bytes()
    [first], cursor, _ = _tick(defs, instance, None)
    assert [k.to_user_string() for k in first.asset_selection] == [*LEGAL_KEYS, VIEW]
    assert first.run_config == {"ops": {LEGAL_IMPORT: {"config": {"workbook": str(path), "documents_dir": ""}}}}
    requests, cursor, skipped = _tick(defs, instance, cursor)
    assert requests == [] and skipped.startswith("cases.xlsx unchanged")

    # a normalize run while no row waits in error requests nothing
    _materialized(instance, "normalized_leases")
    assert _tick(defs, instance, cursor)[0] == []
    cursor = _tick(defs, instance, cursor)[1]

    # the requested run imports; its row waits in error for a lease DoorLoop does not have yet
    assert launch(defs, first, instance).success
    assert _all(warehouse, "SELECT case_key, status FROM legal_case_import_staging") == [("EV-1", "error")]
    assert _tick(defs, instance, cursor)[0] == []  # the import itself changed no table it links to
    _materialized(instance, "normalized_tenants")
    [heal], cursor, _ = _tick(defs, instance, cursor)
    assert heal.run_key != first.run_key and heal.run_config == first.run_config
    assert _tick(defs, instance, cursor)[0] == []

    # a changed workbook is one import; changed back, it is imported again
    write_workbook(path, [["EV-1", UNKNOWN_LEASE, "notice_served", "2026-09-02"]], header)
    [changed], cursor, _ = _tick(defs, instance, cursor)
    assert _tick(defs, instance, cursor)[0] == []
    path.write_bytes(original)
    [back], cursor, _ = _tick(defs, instance, cursor)
    keys = [first.run_key, heal.run_key, changed.run_key, back.run_key]
    assert len(set(keys)) == 4 and back.run_key.split(":")[1] == first.run_key.split(":")[1]  # the content hash
    assert json.loads(cursor)["requested"] == 4


def test_daily_schedule_imports_the_configured_workbook_only(defs, instance, tmp_path, monkeypatch):  # noqa: F811
    at = dt.datetime.now(dt.UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    schedule = defs.resolve_schedule_def(DAILY_SCHEDULE)

    def request() -> dg.RunRequest:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=at)
        [run] = schedule.evaluate_tick(context).run_requests
        return run

    monkeypatch.delenv("ALTUS_LEGAL_WORKBOOK", raising=False)
    monkeypatch.delenv("ALTUS_LEGAL_EXPORT_PATH", raising=False)
    without = request()
    keys = {k.to_user_string() for k in without.asset_selection}
    assert not keys & {*LEGAL_KEYS, LEGAL_EXPORT} and not without.run_config

    workbook, export = tmp_path / "cases.xlsx", tmp_path / "export.xlsx"
    monkeypatch.setenv("ALTUS_LEGAL_WORKBOOK", str(workbook))
    monkeypatch.setenv("ALTUS_LEGAL_DOCUMENTS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("ALTUS_LEGAL_EXPORT_PATH", str(export))
    daily = request()
    selected = [k.to_user_string() for k in daily.asset_selection]
    assert set(selected) == keys | {*LEGAL_KEYS, LEGAL_EXPORT} and len(selected) == len(set(selected))
    assert daily.run_config == {
        "ops": {LEGAL_IMPORT: {"config": {"workbook": str(workbook), "documents_dir": str(tmp_path / "docs")}}}
    }
