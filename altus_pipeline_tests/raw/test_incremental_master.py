"""Incremental master data: a daily run reads newest-changed first and stops at the last
run's high-water mark; the weekly (reconcile) run reads full snapshots and catches deletes;
a server that ignores ``sort_by`` is noticed and read in full."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import dagster as dg
from psycopg import sql

from altus_pipeline.assets.raw import MASTER_KEYS
from altus_pipeline.audit import record_audit
from altus_pipeline.doorloop.client import PAGE_SIZE, DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES, Entity
from altus_pipeline.raw.incremental import AS_CHEAP, NO_MARK, UNSORTED, UNSTAMPED
from altus_pipeline.raw.load import LoadResult, RawLoader
from altus_pipeline.schedules import DAILY_SCHEDULE, WEEKLY_SCHEDULE
from altus_pipeline.sensors.launch import launch
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import TOKEN
from altus_pipeline_tests.raw.test_reconcile import _defs, instance  # noqa: F401  (the instance fixture, and the project on the sandbox)

TENANTS, UNITS, LEASES, LEASE_TENANTS = (ENTITIES[n] for n in ("tenants", "units", "leases", "lease_tenants"))
MASTER = sorted(
    (e for e in ENTITIES.values() if not e.partitioned), key=lambda e: bool(e.read_after)
)  # as a run orders them
SCHEDULED = [TENANTS, ENTITIES["lease_tenants"]]
PAGE = 50  # small pages, so a full snapshot of the small dataset takes several requests


def _load(wh: Warehouse, server, entity: Entity, *, newest_first: bool, page_size: int = PAGE) -> LoadResult:
    """One load as the raw asset makes it: the listing and its audit row, in one transaction."""
    client = DoorLoopClient(
        server.base_url, TOKEN, budget=LocalRateBudget(Limits(None, None)), page_size=page_size, timeout=5.0
    )
    run_id, started = f"run-{uuid.uuid4().hex[:8]}", dt.datetime.now(dt.UTC)
    with client, wh.connect() as conn:
        result = RawLoader(conn, client, entity, run_id).load(newest_first=newest_first)
        record_audit(conn, run_id, entity.raw_table, None, started, result)
        conn.commit()
    return result


def _live(wh: Warehouse, entity: Entity) -> dict[str, dict]:
    query = sql.SQL("SELECT id, payload FROM {} WHERE deleted_at IS NULL").format(sql.Identifier(entity.raw_table))
    with wh.connect() as conn:
        return dict(conn.execute(query).fetchall())


def _expected(server, entity: Entity) -> dict[str, dict]:
    return {r["id"]: r for r in server.records(entity.name)}


def _change(server, entity: Entity) -> tuple[list[str], str]:
    """Edit two records, add one, delete one; return the ids edited or added and the deleted id."""
    first, second, doomed = server.records(entity.name)[-3:]
    added = dict(first, id=uuid.uuid4().hex[:24])
    server.mutate(
        entity.name,
        upsert=[dict(first, name="edited once"), dict(second, name="edited too"), added],
        delete_ids=[doomed["id"]],
    )
    return [first["id"], second["id"], added["id"]], doomed["id"]


def _full_pages(server, entity: Entity) -> int:
    return math.ceil(len(server.records(entity.name)) / PAGE)


def test_daily_read_stops_at_the_high_water_mark_and_the_full_read_catches_the_delete(
    warehouse, sandbox_factory, small_dataset
):
    server = sandbox_factory(small_dataset)
    newest = max(r["updatedAt"] for r in server.records(TENANTS.name))
    first = _load(warehouse, server, TENANTS, newest_first=True)
    assert first.listing == NO_MARK and first.stats.requests == _full_pages(server, TENANTS) > 3
    changed, deleted = _change(server, TENANTS)
    stamped = [_expected(server, TENANTS)[i]["updatedAt"] for i in changed]

    server.reset_requests()
    daily = _load(warehouse, server, TENANTS, newest_first=True)
    assert daily.listing.startswith("incremental") and daily.high_water_mark == newest
    assert daily.stats.requests == 1 == len(server.requests)
    assert server.requests[0].query["sort_by"] == "updatedAt" and server.requests[0].query["sort_descending"] == "true"
    assert (daily.inserted, daily.updated, daily.soft_deleted) == (1, 2, 0)
    live = _live(warehouse, TENANTS)
    assert all(live[i] == _expected(server, TENANTS)[i] for i in changed)
    assert deleted in live  # absence from an incremental read means nothing
    assert {k: v for k, v in live.items() if k != deleted} == _expected(server, TENANTS)

    again = _load(warehouse, server, TENANTS, newest_first=True)
    assert again.stats.requests == 1 and (again.inserted, again.updated, again.soft_deleted) == (0, 0, 0)
    assert again.high_water_mark == max(stamped)

    weekly = _load(warehouse, server, TENANTS, newest_first=False)
    assert weekly.listing == "full" and weekly.soft_deleted == 1
    assert weekly.stats.requests == _full_pages(server, TENANTS)
    assert _live(warehouse, TENANTS) == _expected(server, TENANTS)


def test_a_server_that_ignores_sort_is_read_in_full(warehouse, sandbox_factory, small_dataset):
    unsorted = sandbox_factory(small_dataset, ignore_sort=True)
    _load(warehouse, unsorted, UNITS, newest_first=False)
    _change(unsorted, UNITS)
    daily = _load(warehouse, unsorted, UNITS, newest_first=True)
    assert (daily.inserted, daily.updated, daily.soft_deleted) == (1, 2, 1)
    assert _live(warehouse, UNITS) == _expected(unsorted, UNITS)
    assert daily.listing == UNSORTED and daily.high_water_mark is None
    assert daily.stats.requests > _full_pages(unsorted, UNITS)  # the refused incremental page, then every page


def test_a_listed_record_without_a_readable_updated_at_is_read_in_full(warehouse, sandbox_factory, small_dataset):
    units = small_dataset["units"]
    _load(warehouse, sandbox_factory(small_dataset), UNITS, newest_first=False)
    odd = dict(units[7], id="a" * 24, updatedAt="last tuesday")  # sorts before every ISO stamp, descending
    later = sandbox_factory({**small_dataset, "units": [*units[1:], odd]})  # the same account, changed
    daily = _load(warehouse, later, UNITS, newest_first=True)
    assert (daily.inserted, daily.soft_deleted) == (1, 1) and _live(warehouse, UNITS) == _expected(later, UNITS)
    assert daily.listing == UNSTAMPED


def test_a_stored_row_without_updated_at_makes_the_read_full(warehouse, sandbox_factory, small_dataset):
    stripped = [
        {k: v for k, v in r.items() if k != "updatedAt"} if i == 7 else r for i, r in enumerate(small_dataset["units"])
    ]
    server = sandbox_factory({**small_dataset, "units": stripped})
    _load(warehouse, server, UNITS, newest_first=False)
    server.mutate(UNITS.name, delete_ids=[stripped[0]["id"]])
    daily = _load(warehouse, server, UNITS, newest_first=True)
    assert daily.soft_deleted == 1 and _live(warehouse, UNITS) == _expected(server, UNITS)
    assert daily.listing == UNSTAMPED


def test_a_daily_run_without_changes_makes_one_request_per_entity(warehouse, sandbox_factory, small_dataset):
    server = sandbox_factory(small_dataset)
    for entity in MASTER:
        _load(warehouse, server, entity, newest_first=False, page_size=PAGE_SIZE)
    server.reset_requests()
    quiet = {e.name: _load(warehouse, server, e, newest_first=True, page_size=PAGE_SIZE) for e in MASTER}
    assert len(server.requests) == len(MASTER)
    assert {r.path for r in server.requests} == {f"/api{e.path}" for e in MASTER}
    assert {n for n, r in quiet.items() if not r.listing.startswith("incremental")} == {LEASE_TENANTS.name}
    assert quiet[LEASE_TENANTS.name].listing == AS_CHEAP.format(parents="leases")  # 511 rows: one page either way
    assert all(r.inserted == r.updated == r.soft_deleted == 0 for r in quiet.values())
    assert quiet["lease_tenants"].api_total == len(server.records("lease_tenants"))  # its one request, for the check


def _tenant_rows(server, lease_id: str) -> list[dict]:
    return [r for r in server.records(LEASE_TENANTS.name) if r["lease"] == lease_id]


def test_lease_tenants_are_read_by_the_leases_and_tenants_that_changed(warehouse, sandbox_factory, small_dataset):
    """DoorLoop stamps no lease tenant row: a daily read lists the rows of each lease that changed
    (an edit, an addition or a removal through the lease stamps it) and of each lease of a tenant
    that changed (each row embeds its tenant), every one of those leases' rows; raw ends exact."""
    server = sandbox_factory(small_dataset)
    for entity in (LEASES, TENANTS, LEASE_TENANTS):
        _load(warehouse, server, entity, newest_first=False)
    busy = [
        lease
        for lease in {r["lease"] for r in server.records(LEASE_TENANTS.name)}
        if len(_tenant_rows(server, lease)) > 1
    ]
    edited_lease, added_lease, removed_lease, tenant_lease = sorted(busy)[:4]
    edited = dict(_tenant_rows(server, edited_lease)[0], moveOutNoticeAt="2026-10-30")
    added = dict(_tenant_rows(server, added_lease)[0], id=uuid.uuid4().hex[:24], name="Added Tenant")
    removed = _tenant_rows(server, removed_lease)[0]["id"]
    server.mutate(LEASE_TENANTS.name, upsert=[edited, added], delete_ids=[removed])
    tenant = _tenant_rows(server, tenant_lease)[0]["tenant"]
    server.mutate(TENANTS.name, upsert=[dict(tenant, firstName="Renamed")])
    affected = {edited_lease, added_lease, removed_lease} | {
        r["lease"] for r in server.records(LEASE_TENANTS.name) if r["tenant"]["id"] == tenant["id"]
    }

    for entity in (LEASES, TENANTS):
        assert _load(warehouse, server, entity, newest_first=True).listing.startswith("incremental")
    server.reset_requests()
    daily = _load(warehouse, server, LEASE_TENANTS, newest_first=True)
    assert daily.listing.startswith(f"incremental ({len(affected)} leases changed since ")
    assert sorted(r.query.get("filter_lease") for r in server.requests if "filter_lease" in r.query) == sorted(affected)
    assert len(server.requests) == 1 + len(affected) < _full_pages(server, LEASE_TENANTS)
    assert daily.soft_deleted == 1 and daily.inserted == 1 and daily.updated >= 2
    assert _live(warehouse, LEASE_TENANTS) == _expected(server, LEASE_TENANTS)
    assert daily.api_total == len(server.records(LEASE_TENANTS.name))

    server.reset_requests()
    again = _load(warehouse, server, LEASE_TENANTS, newest_first=True)
    assert len(server.requests) == 1 and again.listing.startswith("incremental (0 leases changed")
    assert (again.inserted, again.updated, again.soft_deleted) == (0, 0, 0)


def test_lease_tenants_whose_move_date_passed_are_read_by_that_date(warehouse, sandbox_factory, small_dataset):
    """A row's ``status`` moves with the calendar, unstamped: the rows whose move-in or move-out
    date passed since the last read are listed by that date, and no other lease is read."""
    today = dt.datetime.now(dt.UTC).date()
    moving = small_dataset[LEASE_TENANTS.name][0]
    moving.update(moveInAt=today.isoformat(), status="FUTURE")
    server = sandbox_factory(small_dataset)
    for entity in (LEASES, TENANTS, LEASE_TENANTS):
        _load(warehouse, server, entity, newest_first=False)
    with warehouse.connect() as conn:  # the last read of lease tenants was yesterday
        conn.execute("UPDATE doorloop_pipeline_audit SET finished_at = finished_at - interval '1 day'")
        conn.commit()
    server.mutate(LEASE_TENANTS.name, upsert=[dict(moving, status="CURRENT")])  # DoorLoop's status, today
    with warehouse.connect() as conn:  # the calendar moved it: no lease or tenant changed since yesterday
        for entity in (LEASES, TENANTS):
            shift = sql.SQL("UPDATE {} SET last_changed_at = last_changed_at - interval '1 day'")
            conn.execute(shift.format(sql.Identifier(entity.raw_table)))
        conn.commit()
    server.reset_requests()
    daily = _load(warehouse, server, LEASE_TENANTS, newest_first=True)
    listed = [r.query for r in server.requests if "page_size" in r.query and r.query["page_size"] != "1"]
    assert listed == [
        {
            "filter_movedInAt_from": today.isoformat(),
            "filter_movedInAt_to": today.isoformat(),
            "page_size": str(PAGE),
            "page_number": "1",
        }
    ]
    assert daily.listing.endswith("; 1 by a date passed)") and daily.updated == 1
    assert _live(warehouse, LEASE_TENANTS) == _expected(server, LEASE_TENANTS)


# -- the schedules: the daily run reads incrementally, the weekly run in full ---------------------------


def _master_run(defs: dg.Definitions, instance, schedule: str, entities: list[Entity] = SCHEDULED) -> dict[str, dict]:
    """Run two master-data raw assets with the tags of ``schedule``'s tick; their metadata by table.

    Two, not all: each asset costs a Dagster run ~3 s in steps and checks; the loader tests
    above hold every entity."""
    at = dt.datetime.now(dt.UTC)
    [request] = (
        defs.resolve_schedule_def(schedule)
        .evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=at))
        .run_requests
    )
    assert set(MASTER_KEYS) <= {k.to_user_string() for k in request.asset_selection}
    master = dg.RunRequest(asset_selection=[dg.AssetKey(e.raw_table) for e in entities], tags=request.tags)
    summary = launch(defs, master, instance)
    assert summary.success
    return summary.materializations


def test_daily_schedule_reads_changes_only_and_the_weekly_schedule_reads_everything(
    warehouse, sandbox_factory, small_dataset, instance
):
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    weekly = _master_run(defs, instance, WEEKLY_SCHEDULE)
    assert {weekly[e.raw_table]["listing"] for e in SCHEDULED} == {"full (reconcile)"}
    changed, deleted = _change(server, TENANTS)

    server.reset_requests()
    daily = _master_run(defs, instance, DAILY_SCHEDULE)
    assert daily["doorloop_raw_tenants"]["listing"].startswith("incremental")
    assert daily["doorloop_raw_lease_tenants"]["listing"] == AS_CHEAP.format(parents="leases")  # one page of 1,000
    assert (daily["doorloop_raw_tenants"]["inserted"], daily["doorloop_raw_tenants"]["updated"]) == (1, 2)
    assert daily["doorloop_raw_tenants"]["soft_deleted"] == 0 and deleted in _live(warehouse, TENANTS)
    assert len(server.requests) == len(SCHEDULED)
    assert all(_live(warehouse, TENANTS)[i] == _expected(server, TENANTS)[i] for i in changed)

    weekly = _master_run(defs, instance, WEEKLY_SCHEDULE)
    assert weekly["doorloop_raw_tenants"]["soft_deleted"] == 1
    for entity in SCHEDULED:
        assert _live(warehouse, entity) == _expected(server, entity), entity.name


def test_a_daily_run_loads_the_leases_before_the_lease_tenants_that_follow_them(
    warehouse, sandbox_factory, small_dataset, instance
):
    """One daily run catches a lease tenant edited through its lease: the lease is loaded first."""
    rows = small_dataset[LEASE_TENANTS.name]
    small_dataset[LEASE_TENANTS.name] = rows + [dict(r, id=f"{n:024x}") for n, r in enumerate(rows * 3)]  # 3 pages
    server = sandbox_factory(small_dataset)
    defs = _defs(warehouse, server)
    followed = [LEASE_TENANTS, TENANTS, LEASES]  # the lease tenants first: the run must reorder them
    _master_run(defs, instance, WEEKLY_SCHEDULE, followed)
    edited = dict(server.records(LEASE_TENANTS.name)[5], moveOutNoticeAt="2026-10-30")
    server.mutate(LEASE_TENANTS.name, upsert=[edited])
    daily = _master_run(defs, instance, DAILY_SCHEDULE, followed)
    assert daily[LEASE_TENANTS.raw_table]["listing"].startswith("incremental (1 leases changed since ")
    assert daily[LEASE_TENANTS.raw_table]["updated"] == 1
    assert _live(warehouse, LEASE_TENANTS) == _expected(server, LEASE_TENANTS)
