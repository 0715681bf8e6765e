"""An asset's run writes only its own tables (issue 11): partial normalize runs.

A faulty sync (a malformed property, whose units, leases, charges and tasks then fail; a
malformed unit; a user and an account gone from DoorLoop) and a clean one, with
normalized assets run alone or in subsets in between: no run may change a table of
another asset (nor its pending links, DLQ records or watermark), and once everything has
run, the warehouse equals a full normalize of the same data in a fresh schema.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from altus_pipeline.assets.views import VIEWS, refresh_view
from altus_pipeline.checks.normalized import _dangling_sql, reconciliation_sql
from altus_pipeline.dlq.model import NORMALIZE
from altus_pipeline.kpi.compute import write_snapshot
from altus_pipeline.normalized.spec import GONE, PENDING, TABLES, WATERMARKS, Table
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate
from altus_pipeline_tests.normalized.test_normalized import load_raw, normalize_direct, run_normalize


def ident(name: str) -> str:
    """``name`` quoted as an identifier, for this module's own SQL text."""
    return sql.Identifier(name).as_string()


def lit(value: str) -> str:
    """``value`` as a SQL string literal, for this module's own SQL text."""
    return sql.Literal(value).as_string()


ASSET_OF = {obj: t.name for t in TABLES.values() for obj in t.objects}


def _sync(wh: Warehouse, data: dict[str, list]) -> None:
    """Raw as a full snapshot of ``data`` leaves it: changed rows written, rows not listed soft-deleted."""
    load_raw(wh, data)


def _faulty(clean: dict[str, list]) -> tuple[dict[str, list], dict[str, str]]:
    """The dataset as a faulty sync reads it, and the ids of what it breaks."""
    data = copy.deepcopy(clean)
    prop = data["properties"][0]
    prop["createdAt"] = "2024-02-30T10:00:00Z"  # rejected: its units, leases, charges, tasks fail after it
    unit = next(u for u in data["units"] if u["property"] != prop["id"])
    unit["marketRent"] = "12,50 USD"  # rejected: the leases whose unit list names it fail after it
    creator = data["users"][0]["createdBy"]  # every user's creator, also named by most tables
    account = max(
        data["accounts"],
        key=lambda a: sum(line["account"] == a["id"] for c in data["lease_charges"] for line in c["lines"]),
    )
    data["users"] = [u for u in data["users"] if u["id"] != creator]
    data["accounts"] = [a for a in data["accounts"] if a["id"] != account["id"]]
    return data, {"property": prop["id"], "unit": unit["id"], "user": creator, "account": account["id"]}


def _state(conn: psycopg.Connection, t: Table) -> dict[str, str]:
    """Everything a run of ``t``'s asset may write, byte for byte: its tables and its own
    entries of the shared pending links, DLQ and watermarks."""
    sources = {obj: ident(obj) for obj in t.objects}
    sources[f"{PENDING} of {t.name}"] = f"(SELECT * FROM {PENDING} WHERE table_name = {lit(t.name)})"
    sources[f"DLQ of {t.entity}"] = (
        f"(SELECT * FROM doorloop_error_records WHERE entity = {lit(t.entity)} AND stage = {lit(NORMALIZE)})"
    )
    sources[f"{WATERMARKS} of {t.name}"] = f"(SELECT * FROM {WATERMARKS} WHERE table_name = {lit(t.name)})"
    return {
        label: conn.execute(
            f"SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {source} x"
        ).fetchone()[0]
        for label, source in sources.items()
    }


def _states(wh: Warehouse) -> dict[str, dict[str, str]]:
    with wh.connect() as conn:
        return {t.name: _state(conn, t) for t in TABLES.values()}


def _others_unchanged(before: dict, after: dict, ran: set[str]) -> None:
    changed = {
        name: [k for k in before[name] if before[name][k] != after[name][k]] for name in before if name not in ran
    }
    assert not any(changed.values()), f"a run of {sorted(ran)} wrote other assets' data: {changed}"


def _content(wh: Warehouse) -> dict[str, str]:
    """What readers see: every normalized table's live rows without run bookkeeping, and the pending links."""
    columns = {t.name: ["id", "doorloop_id", *(c.name for c in t.columns)] for t in TABLES.values()}
    columns |= {ch.name: list(ch.all_columns) for t in TABLES.values() for ch in t.children}
    sources = {
        name: f"(SELECT {', '.join(ident(c) for c in cols)} FROM {ident(name)}"
        + (f" WHERE {GONE} IS NULL)" if name in TABLES else ")")
        for name, cols in columns.items()
    }
    sources[PENDING] = f"(SELECT table_name, doorloop_id, column_name, target_table, target_doorloop_id FROM {PENDING})"
    with wh.connect() as conn:
        return {
            name: conn.execute(
                f"SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), "
                f"'')) FROM {source} x"
            ).fetchone()[0]
            for name, source in sources.items()
        }


def _consistent(wh: Warehouse, t: Table) -> None:
    """What the asset's own checks hold after its run: nothing lost, no live link to a missing or gone row."""
    with wh.connect() as conn:
        live, rows, in_dlq = conn.execute(reconciliation_sql(t)).fetchone()
        assert live == rows + in_dlq, t.name
        links = [(t.name, c.name, c.target) for c in t.refs()]
        links += [(ch.name, c.name, c.target) for ch in t.children for c in ch.columns if c.kind == "ref"]
        dangling = {
            f"{o}.{c}": n for o, c, target in links if (n := conn.execute(_dangling_sql(o, c, target)).fetchone()[0])
        }
        assert not dangling, dangling


def _each_alone(wh: Warehouse, tables: list[Table]) -> None:
    """Normalize each table alone, in this order, as its asset does; hold every other asset's data unchanged."""
    before = _states(wh)
    for t in tables:
        with wh.connect() as conn:
            Normalizer(conn, t, f"alone-{t.name}").run()
            conn.commit()
        after = _states(wh)
        _others_unchanged(before, after, {t.name})
        _consistent(wh, t)
        before = after


def _gone(wh: Warehouse) -> dict[str, int]:
    with wh.connect() as conn:
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {ident(t)} WHERE {GONE} IS NOT NULL").fetchone()[0] for t in TABLES
        }
    return {t: n for t, n in counts.items() if n}


def _reported_gone(wh: Warehouse, day: dt.date) -> dict[str, int]:
    """Rows of the KPIs and of every view, computed now, that name a row marked gone (none may)."""
    with wh.connect() as conn:
        write_snapshot(conn, day - dt.timedelta(days=30), day)
        conn.commit()
    for view in VIEWS:
        refresh_view(wh, view)
    gone = " UNION ALL ".join(f"SELECT id::text FROM {ident(t)} WHERE {GONE} IS NOT NULL" for t in TABLES)
    with wh.connect() as conn:
        counts = {
            name: conn.execute(
                f"SELECT count(*) FROM {ident(name)} v WHERE EXISTS (SELECT 1 FROM "
                f"jsonb_each_text(to_jsonb(v)) e WHERE e.value IN ({gone}))"
            ).fetchone()[0]
            for name in ("kpi_daily_snapshot", "kpi_summary", *VIEWS)
        }
    return {name: n for name, n in counts.items() if n}


def _live_count(wh: Warehouse, table: str, where: str = "true") -> int:
    with wh.connect() as conn:
        return conn.execute(f"SELECT count(*) FROM {ident(table)} WHERE {GONE} IS NULL AND {where}").fetchone()[0]


@pytest.fixture(scope="module")
def fresh(pg_url: str, small_dataset_pristine: dict[str, list]) -> dict[str, str]:
    """The content of a full normalize of the clean small dataset in a schema of its own."""
    wh = Warehouse(url=pg_url, schema=f"t_{uuid.uuid4().hex[:12]}")
    try:
        migrate(wh)
        _sync(wh, small_dataset_pristine)
        normalize_direct(wh)
        return _content(wh)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(wh.schema)))


@pytest.fixture
def settled(warehouse: Warehouse, small_dataset: dict[str, list]) -> Iterator[Warehouse]:
    _sync(warehouse, small_dataset)
    normalize_direct(warehouse)
    yield warehouse


def test_links_between_assets_have_no_delete_action(warehouse):
    with warehouse.connect() as conn:
        actions = conn.execute(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, c.confdeltype FROM pg_constraint c "
            "WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace "
            "AND c.conrelid::regclass::text LIKE 'normalized%%'"
        ).fetchall()
    assert len(actions) > 120
    assert {(a, b, act) for a, b, act in actions if ASSET_OF[a] != ASSET_OF[b] and act != "a"} == set()
    assert {act for a, b, act in actions if ASSET_OF[a] == ASSET_OF[b]} == {"c", "n"}  # own junctions, own table


def test_each_asset_alone_writes_only_its_own_tables(settled, small_dataset, fresh):
    wh = settled
    faulty, broken = _faulty(small_dataset)
    _sync(wh, faulty)
    _each_alone(wh, list(TABLES.values()))  # parents first: each run sees what its parents' runs left
    # what left is marked gone only while rows of other tables point at it
    gone = _gone(wh)
    assert {"normalized_properties", "normalized_units", "normalized_users", "normalized_leases"} <= set(gone), gone
    assert _live_count(wh, "normalized_properties", f"doorloop_id = {lit(broken['property'])}") == 0
    assert _live_count(wh, "normalized_accounts", f"doorloop_id = {lit(broken['account'])}") == 0
    # nothing vanished unnoticed: every affected charge waits in the DLQ
    charges = _live_count(wh, "normalized_lease_charges")
    assert charges < len(small_dataset["lease_charges"])
    last_day = max(dt.date.fromisoformat(c["date"]) for c in small_dataset["lease_charges"])
    assert _reported_gone(wh, last_day) == {}

    _sync(wh, small_dataset)
    _each_alone(wh, list(reversed(TABLES.values())))  # children first: they still see their parents gone
    assert _live_count(wh, "normalized_lease_charges") == charges
    _each_alone(wh, list(TABLES.values()))
    assert _gone(wh) == {}, "every gone row came back with its raw row"
    assert _content(wh) == fresh


def test_subsets_after_a_faulty_then_clean_sync_and_a_full_run_equals_a_fresh_one(settled, small_dataset, fresh):
    wh = settled
    faulty, broken = _faulty(small_dataset)
    _sync(wh, faulty)
    before = _states(wh)
    first = run_normalize(wh, ["properties", "units"])
    assert all(first.checks.values()), [k for k, ok in first.checks.items() if not ok]
    _others_unchanged(before, _states(wh), {"normalized_properties", "normalized_units"})
    normalize_direct(wh)

    # issue 11's case: properties, units and leases run alone after the clean sync, the other
    # tables keep what they had (charges and tasks short, their missing rows waiting in the DLQ)
    _sync(wh, small_dataset)
    short = {
        name: len(small_dataset[entity]) - _live_count(wh, name)
        for name, entity in (("normalized_lease_charges", "lease_charges"), ("normalized_tasks", "tasks"))
    }
    assert all(short.values()), short
    for subset in (["properties", "units", "leases"], ["lease_charges", "users"]):
        ran = {t.name for t in TABLES.values() if t.source in subset}
        before = _states(wh)
        summary = run_normalize(wh, subset)
        assert all(summary.checks.values()), [k for k, ok in summary.checks.items() if not ok]
        _others_unchanged(before, _states(wh), ran)
    # tasks have not run: still short, and every missing one is in the DLQ, not silently lost
    assert len(small_dataset["tasks"]) - _live_count(wh, "normalized_tasks") == short["normalized_tasks"]
    _consistent(wh, TABLES["normalized_tasks"])

    full = run_normalize(wh)
    assert all(full.checks.values()), [k for k, ok in full.checks.items() if not ok]
    assert _live_count(wh, "normalized_lease_charges") == len(small_dataset["lease_charges"])
    assert _live_count(wh, "normalized_tasks") == len(small_dataset["tasks"])
    assert _gone(wh) == {}
    assert _content(wh) == fresh
    with wh.connect() as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM doorloop_error_records WHERE stage = 'normalize' AND status <> 'resolved'"
            ).fetchone()[0]
            == 0
        )
