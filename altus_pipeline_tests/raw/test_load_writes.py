"""What the raw loader writes, and what it leaves alone: a re-sync with nothing changed
neither writes nor locks a row, a soft delete stamps the row's last change, rows hashed by an
earlier version are not rewritten, a listing with duplicate ids keeps each id's last record (a
full listing holding one has moved, a first load's too), and loads of one table take turns."""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
import time
import uuid

import pytest
from psycopg import sql

from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.errors import DoorLoopListingError
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES, Entity
from altus_pipeline.raw.incremental import updated_at
from altus_pipeline.raw.load import LoadResult, RawLoader
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.conftest import TOKEN

CHARGES, TENANTS, UNITS = ENTITIES["lease_charges"], ENTITIES["tenants"], ENTITIES["units"]


def _client(server, page_size: int = 1000) -> DoorLoopClient:
    return DoorLoopClient(
        server.base_url, TOKEN, budget=LocalRateBudget(Limits(None, None)), page_size=page_size, timeout=5.0
    )


def _load(wh: Warehouse, server, entity: Entity, *, newest_first: bool = False, page_size: int = 1000) -> LoadResult:
    with _client(server, page_size) as client, wh.connect() as conn:
        result = RawLoader(conn, client, entity, f"run-{uuid.uuid4().hex[:8]}").load(newest_first=newest_first)
        conn.commit()
    return result


def _rows(wh: Warehouse, entity: Entity, columns: str) -> dict[str, tuple]:
    query = sql.SQL("SELECT id, " + columns + " FROM {} WHERE deleted_at IS NULL").format(
        sql.Identifier(entity.raw_table)
    )
    with wh.connect() as conn:
        return {row[0]: row[1:] for row in conn.execute(query).fetchall()}


def _stamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_resync_with_nothing_changed_writes_and_locks_no_row(warehouse, sandbox_factory, small_dataset):
    server = sandbox_factory(small_dataset)
    first = _load(warehouse, server, CHARGES)
    assert first.inserted == len(small_dataset["lease_charges"]) and first.updated == 0
    versions = _rows(warehouse, CHARGES, "xmin::text, content_hash")
    # The session's counts of the table's rows written, which may still hold earlier transactions'
    # (PostgreSQL reports them at most once a second): the re-sync's are the difference.
    counted = (
        "SELECT pg_stat_get_xact_tuples_inserted(%(t)s::regclass) + pg_stat_get_xact_tuples_updated(%(t)s::regclass)"
    )
    with _client(server) as client, warehouse.connect() as conn:
        before = conn.execute(counted, {"t": CHARGES.raw_table}).fetchone()[0]
        again = RawLoader(conn, client, CHARGES, "run-again").load()
        written = conn.execute(counted, {"t": CHARGES.raw_table}).fetchone()[0] - before
        conn.commit()
    assert (again.inserted, again.updated, again.soft_deleted) == (0, 0, 0)
    assert again.unchanged == len(versions) and again.touched_from is None
    assert written == 0
    assert _rows(warehouse, CHARGES, "xmin::text, content_hash") == versions
    # ON CONFLICT … DO UPDATE … WHERE locks every row it skips: a locked row keeps its locker in xmax.
    assert _rows(warehouse, CHARGES, "xmax::text") == {i: ("0",) for i in versions}


def test_a_soft_delete_is_a_change_of_the_row(warehouse, sandbox_factory, small_dataset):
    _load(warehouse, sandbox_factory(small_dataset), UNITS)
    gone = small_dataset["units"][0]["id"]
    query = sql.SQL("SELECT deleted_at, last_changed_at FROM {} WHERE id = %s").format(sql.Identifier(UNITS.raw_table))
    with warehouse.connect() as conn:
        _, loaded_at = conn.execute(query, (gone,)).fetchone()
    rest = {**small_dataset, "units": small_dataset["units"][1:]}
    assert _load(warehouse, sandbox_factory(rest), UNITS).soft_deleted == 1
    with warehouse.connect() as conn:
        deleted_at, changed_at = conn.execute(query, (gone,)).fetchone()
    assert deleted_at is not None and changed_at == deleted_at > loaded_at


def test_rows_hashed_by_the_server_before_are_not_rewritten(warehouse, sandbox_factory, small_dataset):
    server = sandbox_factory(small_dataset)
    _load(warehouse, server, UNITS)
    with warehouse.connect() as conn:
        conn.execute("UPDATE doorloop_raw_units SET content_hash = md5(payload::text)")  # as loaded before
        conn.commit()
    before = _rows(warehouse, UNITS, "xmin::text, content_hash")
    changed = copy.deepcopy(server.records("units")[0])
    changed["name"] = "renamed"
    server.mutate("units", upsert=[changed])
    result = _load(warehouse, server, UNITS)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, len(before) - 1)
    after = _rows(warehouse, UNITS, "xmin::text, content_hash")
    assert after.pop(changed["id"]) != before.pop(changed["id"])
    assert after == before
    served = next(r for r in server.records("units") if r["id"] == changed["id"])
    assert _rows(warehouse, UNITS, "payload")[changed["id"]] == (served,)


def test_a_listing_with_duplicate_ids_keeps_each_ids_last_record(warehouse, sandbox_factory, small_dataset):
    """A daily read stops at the high-water mark without a total to check, so a record listed
    twice (edited between two pages) reaches the table: the later one wins."""
    _load(warehouse, sandbox_factory(small_dataset), TENANTS)
    newest = max(updated_at(r) for r in small_dataset["tenants"])
    edited, first_seen = (_stamp(newest + dt.timedelta(seconds=s)) for s in (1, 2))
    twice = dict(small_dataset["tenants"][0], updatedAt=first_seen, firstName="A")
    later = dict(twice, updatedAt=edited, firstName="B")  # listed after ``twice``: newest first
    added = dict(small_dataset["tenants"][1], id=uuid.uuid4().hex[:24], updatedAt=edited)
    server = sandbox_factory({"tenants": [twice, later, added, *small_dataset["tenants"][1:]]})
    result = _load(warehouse, server, TENANTS, newest_first=True, page_size=50)
    assert result.listing.startswith("incremental") and result.duplicates == 1
    assert (result.inserted, result.updated) == (1, 1)
    live = _rows(warehouse, TENANTS, "payload")
    assert live[twice["id"]] == (later,) and live[added["id"]] == (added,)


def test_a_first_load_listing_an_id_twice_fails_as_a_listing_that_moved(warehouse, sandbox_factory, small_dataset):
    """An empty table is the first load's COPY target, where an id listed twice breaks the key:
    the listing moved under us, as a full listing short of distinct ids always has. It is read
    once more, then fails naming the id, writing nothing; once the listing is sound it loads."""
    twice = dict(small_dataset["tenants"][0], firstName="A")
    rest = small_dataset["tenants"][1:]
    server = sandbox_factory({"tenants": [twice, *rest[:60], dict(twice, firstName="B"), *rest[60:]]})
    with pytest.raises(DoorLoopListingError, match=rf"an id was listed twice \(Key \(id\)=\({twice['id']}\) already"):
        _load(warehouse, server, TENANTS, page_size=50)
    assert len([e for e in server.requests if e.path == "/api/tenants"]) == 2 * math.ceil((len(rest) + 2) / 50)
    assert _rows(warehouse, TENANTS, "payload") == {}
    result = _load(warehouse, sandbox_factory(small_dataset), TENANTS, page_size=50)
    assert (result.inserted, result.reads) == (len(rest) + 1, 1)


def test_a_first_load_counts_what_it_wrote_and_the_earliest_date_it_touched(warehouse, sandbox_factory, small_dataset):
    server = sandbox_factory(small_dataset)
    charges, leases = _load(warehouse, server, CHARGES), _load(warehouse, server, ENTITIES["leases"])
    dates = [r["date"] for r in small_dataset["lease_charges"]]
    assert (charges.inserted, charges.rows_in_table) == (len(dates), len(dates))
    assert charges.touched_from == dt.date.fromisoformat(min(dates))
    starts = [r["start"] for r in small_dataset["leases"]]
    assert leases.touched_from == dt.date.fromisoformat(min(starts)[:10])
    assert leases.inserted == len(starts) and leases.reads == 1


def test_loads_of_one_table_take_turns(warehouse, sandbox_factory, small_dataset):
    """A load that finds the table empty inserts without ON CONFLICT: another load of the same
    table waits for it to commit, then finds every row there, unchanged."""
    server = sandbox_factory(small_dataset)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            outcome["result"] = _load(warehouse, server, UNITS)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            outcome["error"] = exc

    with _client(server) as client, warehouse.connect() as conn:
        first = RawLoader(conn, client, UNITS, "run-first").load()
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive(), outcome
        conn.commit()
    waiting.join(timeout=30)
    assert first.inserted == len(small_dataset["units"])
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, len(small_dataset["units"]))
