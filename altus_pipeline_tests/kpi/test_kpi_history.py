"""Back-dated changes recompute the KPIs they touch, and only those (issue 13, part 1).

The small dataset is synced raw → normalized → 120 days of KPIs through the Definitions;
then a payment dated 100 days back appears and a charge 40 days back is voided, the weekly
reconcile runs, and ``kpi_history_sensor`` must ask for exactly 100 days ago..today in one
run, after which every snapshot row equals a from-scratch build of the mutated account.
Meanwhile the ``history_current`` check shows the stale range in the UI before any KPI run.
The from-scratch build it is compared with loads raw with the real loader and normalizes
without Dagster runs (a second full sync through Dagster proved nothing more and cost the
most); its KPIs are a run like any other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TypeVar

import dagster as dg
import pytest
from psycopg import sql

from altus_pipeline.assets.kpis import SNAPSHOT
from altus_pipeline.checks.kpis import HISTORY_CHECK
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.kpi.compute import KPI_COLUMNS
from altus_pipeline.kpi.stale import stale_kpis
from altus_pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG, full_range
from altus_pipeline.runner import kpis, normalize, sync_raw
from altus_pipeline.schedules import WEEKLY_SCHEDULE
from altus_pipeline.sensors import KPI_HISTORY_SENSOR
from altus_pipeline.sensors.launch import launch
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import own_warehouse
from altus_pipeline_tests.dlq.test_retries import _defs, _resource, instance  # noqa: F401  (``instance`` is a fixture)
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

HISTORY_DAYS = 120  # the KPI history the test keeps, up to its day
T = TypeVar("T")
COLUMNS = sql.SQL(", ").join(map(sql.Identifier, ("as_of_date", "scope", "property_id", *KPI_COLUMNS)))


def _days_around(action: Callable[[], T]) -> tuple[T, set[dt.date]]:
    """``action()`` and the partitions' last day before and after it: two days when it crossed midnight."""
    before = full_range()[1]
    result = action()
    return result, {before, full_range()[1]}


def _tick(defs, instance, wh, cursor: str | None):  # noqa: F811
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources={"warehouse": _resource(wh)}
    )
    return defs.resolve_sensor_def(KPI_HISTORY_SENSOR).evaluate_tick(context)


def _reconcile(defs, instance, today: dt.date) -> None:  # noqa: F811
    at = dt.datetime.combine(today, dt.time(3), dt.UTC)
    [request] = (
        defs.resolve_schedule_def(WEEKLY_SCHEDULE)
        .evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=at))
        .run_requests
    )
    assert launch(defs, request, instance).success


def _window(last: dt.date) -> tuple[dt.date, dt.date]:
    return last - dt.timedelta(days=HISTORY_DAYS - 1), last


def _build(defs, instance, today: dt.date) -> None:  # noqa: F811
    sync_raw(defs, ENTITIES.values(), instance)
    normalize(defs, instance)
    kpis(defs, instance, _window(today))


def _build_from_scratch(wh: Warehouse, server, instance, window: tuple[dt.date, dt.date]) -> None:  # noqa: F811
    """What the account holds now, loaded and normalized in this process, then its KPIs as a run."""
    load_raw(wh, {name: server.records(name) for name in ENTITIES})
    normalize_direct(wh)
    assert kpis(_defs(wh, server), instance, window).success


def _history(instance) -> tuple[str, bool, dict[str, str]]:  # noqa: F811
    """The latest ``history_current`` evaluation: its run id ('' when runless), passed, metadata."""
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([HISTORY_CHECK])[HISTORY_CHECK]
    evaluation = record.event.dagster_event.event_specific_data
    return record.run_id, evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def _snapshot(wh: Warehouse) -> list[tuple]:
    query = sql.SQL("SELECT {} FROM kpi_daily_snapshot ORDER BY as_of_date, scope, property_id").format(COLUMNS)
    with wh.connect() as conn:
        return conn.execute(query).fetchall()


def _watermark(wh: Warehouse) -> str:
    with wh.connect() as conn:
        return str(conn.execute("SELECT max(id) FROM doorloop_pipeline_audit").fetchone()[0])


def _back_date(dataset: dict[str, list], server, today: dt.date) -> tuple[dt.date, dt.date]:
    """A payment dated 100 days back appears and a charge about 40 days back is voided (deleted)."""
    paid, voided = today - dt.timedelta(days=100), today - dt.timedelta(days=40)
    template = next(p for p in dataset["lease_payments"] if p["date"] >= paid.isoformat())
    server.mutate(
        "lease_payments",
        upsert=[{**template, "id": "late0payment0000000000001", "date": paid.isoformat(), "amountReceived": 777.77}],
    )
    charge = min((c for c in dataset["lease_charges"] if c["date"] >= voided.isoformat()), key=lambda c: c["date"])
    assert charge["date"] < (today - dt.timedelta(days=35)).isoformat()
    server.mutate("lease_charges", delete_ids=[charge["id"]])
    return paid, dt.date.fromisoformat(charge["date"])


@pytest.fixture
def fresh_warehouse(pg_url: str) -> Iterator[Warehouse]:
    """A second warehouse, for the from-scratch build."""
    with own_warehouse(pg_url) as wh:
        yield wh


def test_back_dated_changes_recompute_exactly_the_stale_range(
    warehouse,
    fresh_warehouse,
    sandbox_factory,
    small_dataset,
    instance,  # noqa: F811
):
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    today = full_range()[1]  # taken once: a test that crosses midnight still keeps one history
    _build(defs, instance, today)
    cursor = _watermark(warehouse)  # the sensor has seen the first build
    assert _history(instance)[1]  # evaluated by the KPI run: a first build leaves nothing stale

    _reconcile(defs, instance, today)  # DoorLoop unchanged: the reconcile touches nothing
    idle = _tick(defs, instance, warehouse, cursor)
    assert not idle.run_requests and "no raw change" in idle.skip_message
    cursor = idle.cursor

    before = _snapshot(warehouse)
    paid, voided = _back_date(small_dataset, server, today)
    _reconcile(defs, instance, today)
    with warehouse.connect() as conn:
        touched = dict(
            conn.execute(
                "SELECT asset_key, touched_from FROM doorloop_pipeline_audit WHERE id > %s"
                " AND touched_from IS NOT NULL",
                (int(cursor),),
            ).fetchall()
        )
    assert touched == {"doorloop_raw_lease_payments": paid, "doorloop_raw_lease_charges": voided}

    tick, days = _days_around(lambda: _tick(defs, instance, warehouse, cursor))
    [request] = tick.run_requests
    end = dt.date.fromisoformat(request.tags[RANGE_END_TAG])
    assert end in days  # the partitions' last day when the sensor ran: stale up to today
    stale = (
        "",
        False,
        {
            "stale_from": paid.isoformat(),
            "stale_to": end.isoformat(),
            "touched_by": "doorloop_raw_lease_charges, doorloop_raw_lease_payments",
        },
    )
    assert _history(instance) == stale  # runless, before any KPI run
    records = instance.event_log_storage.get_asset_check_execution_history(HISTORY_CHECK, limit=100)
    assert _tick(defs, instance, warehouse, cursor).run_requests  # same state: nothing reported again
    assert len(instance.event_log_storage.get_asset_check_execution_history(HISTORY_CHECK, limit=100)) == len(records)
    assert request.tags[RANGE_START_TAG] == paid.isoformat()
    assert {SNAPSHOT, "kpi_summary", "normalized_lease_payments"} <= {
        k.to_user_string() for k in request.asset_selection
    }
    summary = launch(defs, request, instance)
    assert summary.success
    assert _history(instance) == (summary.run_id, True, {})
    written = summary.materializations[SNAPSHOT]
    assert (written["first_date"], written["last_date"]) == (paid.isoformat(), end.isoformat())
    scopes = len(small_dataset["properties"]) + 1
    assert written["rows_written"] == ((end - paid).days + 1) * scopes

    after = _snapshot(warehouse)
    assert [r for r in after if r[0] < paid] == [r for r in before if r[0] < paid]  # history before D untouched
    assert after != before

    _build_from_scratch(fresh_warehouse, server, instance, (_window(today)[0], end))  # the mutated account
    assert after == _snapshot(fresh_warehouse)

    with warehouse.connect() as conn:
        assert stale_kpis(conn, int(tick.cursor)).dates is None
    settled = _tick(defs, instance, warehouse, tick.cursor)
    assert not settled.run_requests
