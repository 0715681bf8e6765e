"""Nothing falls between partitions: the reconcile lists each transaction entity once,
unfiltered, and a record without a usable business date ends in the DLQ, not nowhere."""

from __future__ import annotations

import datetime as dt
import math

import dagster as dg
import pytest

from altus_pipeline.assets.raw import TRANSACTION_KEYS
from altus_pipeline.definitions import build_definitions
from altus_pipeline.dlq.failed_runs import run_partition_key
from altus_pipeline.dlq.model import Failure
from altus_pipeline.dlq.statements import record_failures, request_retry
from altus_pipeline.doorloop.registry import ENTITIES, Entity
from altus_pipeline.partitions import full_range, is_reconcile
from altus_pipeline.resources import DoorLoopResource, WarehouseResource
from altus_pipeline.runner import sync_raw
from altus_pipeline.schedules import WEEKLY_SCHEDULE
from altus_pipeline.sensors import DLQ_SENSOR
from altus_pipeline.sensors.launch import launch
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import TOKEN

PARTITIONED = [e for e in ENTITIES.values() if e.partitioned]
PAYMENTS = ENTITIES["lease_payments"]
EXPECTED = "expected a date (YYYY-MM-DD or an ISO-8601 timestamp) within the partitions"


@pytest.fixture
def instance(dagster_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    return dagster_instance


def _defs(wh: Warehouse, server) -> dg.Definitions:
    return build_definitions(
        WarehouseResource(database_url=wh.url, schema_name=wh.schema),
        DoorLoopResource(
            base_url=server.base_url,
            token=TOKEN,
            rate_limit_per_minute=0,
            rate_limit_per_hour=0,
            backoff_base_seconds=0.01,
            timeout_seconds=5.0,
        ),
    )


def _strays(dataset: dict[str, list]) -> dict[str, dict]:
    """Add one transaction per way of having no usable business date; return them by entity."""
    payment = {k: v for k, v in dataset["lease_payments"][0].items() if k != "date"}
    strays = {
        "lease_payments": dict(payment, id="stray-payment-without-date"),
        "notes": dict(dataset["notes"][0], id="stray-note-bad-date", createdAt="last tuesday"),
        "vendor_bills": dict(dataset["vendor_bills"][0], id="stray-bill-before-partitions", date="2019-02-28"),
    }
    for name, record in strays.items():
        dataset[name].append(record)
    return strays


def _all(wh: Warehouse, query: str, *params) -> list[tuple]:
    with wh.connect() as conn:
        return conn.execute(query, params).fetchall()


def _expected(records: list) -> dict[str, dict]:
    return {r["id"]: r for r in records if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]}


def _live(wh: Warehouse, entity: Entity) -> dict[str, dict]:
    return dict(_all(wh, f'SELECT id, payload FROM "{entity.raw_table}" WHERE deleted_at IS NULL'))


def _dlq(wh: Warehouse, stage: str = "validate") -> list[tuple]:
    return _all(
        wh,
        "SELECT entity, doorloop_id, stage, error_class, field, partition_key, status, attempts, message "
        "FROM doorloop_error_records WHERE stage = %s ORDER BY entity",
        stage,
    )


def _listing_requests(server) -> list:
    paths = {f"/api{e.path}" for e in PARTITIONED}
    return [r for r in server.requests if r.path in paths]


def _pages(server) -> int:
    """Σ⌈total/1000⌉ over the partitioned entities (an empty listing still takes its one request)."""
    return sum(max(1, math.ceil(len(server.records(e.name)) / 1000)) for e in PARTITIONED)


def _tick_dlq(defs: dg.Definitions, instance, wh: Warehouse) -> list[dg.RunRequest]:
    context = dg.build_sensor_context(
        instance=instance,
        definitions=defs,
        resources={"warehouse": WarehouseResource(database_url=wh.url, schema_name=wh.schema)},
    )
    return list(defs.resolve_sensor_def(DLQ_SENSOR).evaluate_tick(context).run_requests or [])


def _retry_by_hand(wh: Warehouse, entity: str) -> None:
    with wh.connect() as conn:
        assert request_retry(conn, entity=entity) == 1
        conn.commit()


def test_weekly_reconcile_lists_unfiltered_and_sends_only_the_dateless_records_to_the_dlq(
    warehouse, sandbox_factory, small_dataset, instance
):
    strays = _strays(small_dataset)
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    now = dt.datetime.now(dt.UTC)
    [weekly] = (
        defs.resolve_schedule_def(WEEKLY_SCHEDULE)
        .evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=now))
        .run_requests
    )
    assert is_reconcile(weekly.tags) and set(TRANSACTION_KEYS) <= {k.to_user_string() for k in weekly.asset_selection}
    first, last = full_range()
    assert (weekly.tags["dagster/asset_partition_range_start"], weekly.tags["dagster/asset_partition_range_end"]) == (
        first.isoformat(),
        last.isoformat(),
    )
    with warehouse.connect() as conn:  # an earlier run's failed partition: the whole listing covers it
        record_failures(
            conn,
            [
                Failure.of_raw(
                    ENTITIES["lease_charges"],
                    "2026-10-30",
                    "an-earlier-run",
                    stage="extract",
                    payload=None,
                    hash_source="503",
                    error_class="transient",
                    field=None,
                    message="lease_charges: 503",
                )
            ],
        )
        conn.commit()
    raw_only = dg.RunRequest(asset_selection=[dg.AssetKey(k) for k in TRANSACTION_KEYS], tags=weekly.tags)
    summary = launch(defs, raw_only, instance)
    assert summary.success and all(summary.checks.values()), summary.checks

    listed = _listing_requests(server)
    assert len(listed) == _pages(server)
    assert not [r.query for r in listed for e in PARTITIONED if e.date_filter_from in r.query], "no date filter"
    stray_ids = {r["id"] for r in strays.values()}
    for entity in PARTITIONED:
        kept = {i: r for i, r in _expected(server.records(entity.name)).items() if i not in stray_ids}
        assert _live(warehouse, entity) == kept, entity.name
        assert summary.materializations[entity.raw_table]["inserted"] == len(kept)
        assert summary.materializations[entity.raw_table]["rejected"] == int(entity.name in strays)
    assert [r[6] for r in _dlq(warehouse, "extract")] == ["resolved"]
    dlq = _dlq(warehouse)
    assert [r[:8] for r in dlq] == [
        ("lease_payments", "stray-payment-without-date", "validate", "validation", "date", None, "open", 1),
        ("notes", "stray-note-bad-date", "validate", "validation", "createdAt", None, "open", 1),
        ("vendor_bills", "stray-bill-before-partitions", "validate", "validation", "date", None, "open", 1),
    ]
    reasons = [r[8] for r in dlq]
    assert "has no 'date'" in reasons[0] and "'createdAt' 'last tuesday' is not a date" in reasons[1]
    assert "'date' 2019-02-28 is outside the partitions" in reasons[2] and all(EXPECTED in m for m in reasons)

    # `altus sync` without dates is the same unfiltered listing; it changes nothing and adds no DLQ row
    server.reset_requests()
    again = {k: m for s in sync_raw(defs, PARTITIONED, instance) for k, m in s.materializations.items()}
    assert len(_listing_requests(server)) == _pages(server)
    assert not [r.query for r in _listing_requests(server) for e in PARTITIONED if e.date_filter_from in r.query]
    assert all((m["inserted"], m["updated"], m["soft_deleted"]) == (0, 0, 0) for m in again.values()), again
    assert [r[:7] + (2,) for r in dlq] == [r[:8] for r in _dlq(warehouse)], "the same records, seen again"


def test_a_dateless_record_is_retried_by_a_reconcile_and_resolved_once_it_has_a_date(
    warehouse, sandbox_factory, small_dataset, instance
):
    stray = _strays(small_dataset)["lease_payments"]
    gone = small_dataset["lease_payments"][0]["id"]
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    assert all(s.success for s in sync_raw(defs, [PAYMENTS], instance))
    assert _tick_dlq(defs, instance, warehouse) == [], "a validation record is not retried blindly"
    # a ranged run, even over every partition, filters by date: it never sees the stray, so it
    # leaves its record alone
    server.reset_requests()
    [ranged] = sync_raw(defs, [PAYMENTS], instance, full_range())
    assert all(PAYMENTS.date_filter_from in r.query for r in server.requests)
    assert ranged.materializations[PAYMENTS.raw_table]["rejected"] == 0
    assert [r[6:8] for r in _dlq(warehouse)] == [("open", 1)]

    _retry_by_hand(warehouse, "lease_payments")
    [request] = _tick_dlq(defs, instance, warehouse)
    assert request.asset_selection == [dg.AssetKey(PAYMENTS.raw_table)] and request.partition_key is None
    assert is_reconcile(request.tags), "only an unfiltered listing can see a record without a date"
    assert launch(defs, request, instance).success
    assert [r[6:8] for r in _dlq(warehouse)] == [("open", 2)], "unchanged upstream: it stays open, seen again"

    server.mutate("lease_payments", upsert=[dict(stray, date="2026-10-15")], delete_ids=[gone])
    _retry_by_hand(warehouse, "lease_payments")
    [request] = _tick_dlq(defs, instance, warehouse)
    summary = launch(defs, request, instance)
    assert summary.success and summary.materializations[PAYMENTS.raw_table]["soft_deleted"] == 1
    assert [r[6] for r in _dlq(warehouse)] == ["resolved"]
    assert _all(warehouse, f'SELECT business_date FROM "{PAYMENTS.raw_table}" WHERE id = %s', stray["id"]) == [
        (dt.date(2026, 10, 15),)
    ]
    assert _live(warehouse, PAYMENTS) == _expected(server.records("lease_payments"))


def test_a_failed_reconcile_is_retried_as_a_reconcile(warehouse, sandbox_factory, small_dataset, instance):
    server = sandbox_factory(small_dataset, denied_paths=frozenset({PAYMENTS.path}))
    defs = _defs(warehouse, server)
    [summary] = sync_raw(defs, [PAYMENTS], instance, raise_on_error=False)
    assert not summary.success
    assert [r[2:7] for r in _dlq(warehouse, "extract")] == [("extract", "permanent", None, None, "open")]
    assert run_partition_key(instance.get_run_by_id(summary.run_id)) is None, "the run-failure sensor agrees"
    _retry_by_hand(warehouse, "lease_payments")
    [request] = _tick_dlq(defs, instance, warehouse)
    assert is_reconcile(request.tags) and request.partition_key is None
