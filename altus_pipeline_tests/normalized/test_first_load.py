"""A first load checks its foreign keys and builds its indexes once, at the end, as the migrations made them.

Into an empty table, the normalizer drops the foreign keys, indexes and keys of the asset's
tables (a primary key only when no other table's foreign key relies on it), writes, and makes
them again: one join validates every row of a foreign key, one sort builds an index or key,
instead of a trigger and an index insert per row.
Later runs, which readers may overlap, keep the triggers and take no exclusive lock, as
does a load of fewer raw rows than ``FIRST_LOAD_ROWS`` (lowered here to the small dataset).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from altus_pipeline.normalized import transform
from altus_pipeline.normalized.spec import PENDING, TABLES, WATERMARKS
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.warehouse.constraints import checked_once
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.normalized.test_normalized import ALL_OBJECTS, _contents, _dlq, normalize_direct
from altus_pipeline_tests.support.raw import load_raw

PAYMENTS = "normalized_lease_payments"
CHARGES = "normalized_lease_charges"

_KEYS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated, contype::text
FROM pg_constraint WHERE contype IN ('f', 'u', 'p') AND connamespace = to_regnamespace(%s) ORDER BY 1, 2
"""


def _keys(wh: Warehouse) -> list[tuple]:
    """Every foreign, unique and primary key of the warehouse, with its definition and whether it is validated."""
    with wh.connect() as conn:
        return conn.execute(_KEYS, (wh.schema,)).fetchall()


def _indexes(wh: Warehouse) -> list[tuple]:
    with wh.connect() as conn:
        return conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2", (wh.schema,)
        ).fetchall()


@pytest.fixture
def first_load_from_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 1)


@pytest.mark.usefixtures("first_load_from_one_row")
def test_a_first_load_leaves_every_foreign_key_and_index_as_the_migrations_made_them(warehouse, small_dataset):
    before, indexes = _keys(warehouse), _indexes(warehouse)
    assert all(validated for *_, validated, _ in before)
    assert sum(kind == "f" for *_, kind in before) > 40 and sum(kind == "u" for *_, kind in before) > 20
    assert any(name == f"{PAYMENTS}_lease_id_idx" for _, name, _ in indexes)
    load_raw(warehouse, small_dataset)
    results = normalize_direct(warehouse)
    assert results[PAYMENTS].objects[PAYMENTS].inserted > 100
    assert _keys(warehouse) == before
    assert _indexes(warehouse) == indexes
    with warehouse.connect() as conn:  # and the rebuilt index holds every row
        conn.execute("SET enable_seqscan = off")
        lease = conn.execute(f"SELECT lease_id FROM {PAYMENTS} LIMIT 1").fetchone()[0]
        by_index = conn.execute(f"SELECT count(*) FROM {PAYMENTS} WHERE lease_id = %s", (lease,)).fetchone()[0]
        conn.execute("SET enable_seqscan = on")
        conn.execute("SET enable_indexscan = off")
        conn.execute("SET enable_bitmapscan = off")
        by_scan = conn.execute(f"SELECT count(*) FROM {PAYMENTS} WHERE lease_id = %s", (lease,)).fetchone()[0]
        assert by_index == by_scan > 0


def test_a_row_that_breaks_a_foreign_key_fails_the_first_load_and_the_key_stays(warehouse):
    with warehouse.connect() as conn:
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="lease_id"):
            with checked_once(conn, [PAYMENTS]) as keys:
                assert keys >= 3
                conn.execute(
                    f"INSERT INTO {PAYMENTS} (id, doorloop_id, date, lease_id, amount_received) "
                    "VALUES (%s, 'p1', '2026-01-01', %s, 1)",
                    (uuid.uuid4(), uuid.uuid4()),
                )
        conn.rollback()
    assert any(
        table == PAYMENTS and "(lease_id) REFERENCES normalized_leases(id)" in definition and validated
        for table, _, definition, validated, _ in _keys(warehouse)
    )


def test_only_a_first_load_of_many_rows_waits_for_readers_of_the_tables_it_references(
    warehouse, small_dataset, monkeypatch
):
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    with warehouse.connect() as reader, warehouse.connect() as conn:
        reader.execute("SELECT count(*) FROM normalized_leases")  # its transaction stays open, holding a share lock
        conn.execute("SET lock_timeout = '3s'")
        monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 1)
        assert Normalizer(conn, CHARGES, "later-run").run().candidates == 0
        conn.commit()

        charges = conn.execute(f"DELETE FROM {CHARGES}").rowcount  # empty again (no other table points at it)
        conn.commit()
        monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 1_000_000)
        assert Normalizer(conn, CHARGES, "too-few-rows").run().objects[CHARGES].inserted == charges
        conn.commit()

        conn.execute(f"DELETE FROM {CHARGES}")
        conn.commit()
        monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 1)
        with pytest.raises(psycopg.errors.LockNotAvailable):
            Normalizer(conn, CHARGES, "first-load").run()
        conn.rollback()
        reader.rollback()


def _messy(data: dict[str, list]) -> dict[str, list]:
    """Records whose arrays fail in each way a first load checks on its own, and links that wait.

    Returns ``data``, changed: lease charges with a bad line amount (and a later bad one),
    lines that are not an array, a line that is not an object, a line whose account does
    not exist (loaded, the link pending), a bad field besides a bad line (the field is
    reported); a communication with bad participants in two lists (the first list by name
    is reported) and one whose participant's tenant does not exist; a property whose owner
    does not exist (a junction row not written, the link pending); a lease one of whose units
    does not exist (a required link: the lease is rejected).
    """
    charges = [c for c in data["lease_charges"] if c.get("lines")]
    line = charges[0]["lines"][0]
    charges[0]["lines"] = [line, {**line, "id": "1" * 24, "amount": "lots"}, {**line, "id": "2" * 24, "amount": "x"}]
    charges[1]["lines"] = "none"
    charges[2]["lines"] = [7]
    charges[3]["lines"][0]["account"] = "a" * 24
    charges[4]["totalAmount"], charges[4]["lines"] = "much", [5]
    talks = [c for c in data["communications"] if isinstance(c.get("to"), list) and c["to"]]
    participant = talks[0]["to"][0]
    talks[0]["to"] = [participant, 3]
    talks[0]["cc"] = [participant, "oops"]
    talks[1]["to"] = [{**talks[1]["to"][0], "linkedToType": "TENANT", "linkedToId": "b" * 24}]
    owned = next(p for p in data["properties"] if p.get("owners"))
    owned["owners"] = [{**owned["owners"][0], "owner": "c" * 24}]
    lease = next(x for x in data["leases"] if x.get("units"))
    lease["units"] = [*lease["units"], "d" * 24]
    return data


def _outcome(wh: Warehouse) -> tuple:
    with wh.connect() as conn:
        pending = conn.execute(
            sql.SQL(
                "SELECT table_name, doorloop_id, column_name, target_doorloop_id FROM {} ORDER BY 1, 2, 3, 4"
            ).format(sql.Identifier(PENDING))
        ).fetchall()
        payloads = conn.execute(
            "SELECT doorloop_id, payload FROM doorloop_error_records WHERE stage = 'normalize' ORDER BY 1"
        ).fetchall()
    return _contents(wh), _dlq(wh), pending, payloads


def _empty_normalized(wh: Warehouse) -> None:
    with wh.connect() as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} CASCADE").format(
                sql.SQL(", ").join(map(sql.Identifier, [*ALL_OBJECTS, PENDING, WATERMARKS]))
            )
        )
        conn.execute("DELETE FROM doorloop_error_records WHERE stage = 'normalize'")
        conn.commit()


def test_a_first_load_ends_as_a_load_row_by_row_of_the_same_raw_data(warehouse, small_dataset, monkeypatch):
    """The first load types its rows, and their arrays, in statements of its own (from the raw
    table, for parallel workers): the same rows, rejections with the same reasons, the same
    waiting links as the per-row path."""
    data = _messy(small_dataset)
    load_raw(warehouse, data)
    monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 10**9)
    normalize_direct(warehouse)
    row_by_row = _outcome(warehouse)
    _empty_normalized(warehouse)
    monkeypatch.setattr(transform, "FIRST_LOAD_ROWS", 1)
    results = normalize_direct(warehouse)
    assert results["normalized_lease_charges"].objects["normalized_lease_charge_lines"].inserted > 100
    first_load = _outcome(warehouse)

    contents, dlq, pending, payloads = first_load
    charges, talks = data["lease_charges"], data["communications"]
    rejected = {i: (field, message) for (entity, i), (field, message, _) in dlq.items()}
    bad = [c for c in charges if c.get("lines") and (not isinstance(c["lines"], list) or c["lines"][-1] in (7, 5))]
    assert [rejected[c["id"]][0] for c in bad] == ["lines", "lines[0]", "totalAmount"]
    first = next(
        c
        for c in charges
        if isinstance(c.get("lines"), list) and len(c["lines"]) == 3 and c["lines"][2]["amount"] == "x"
    )
    assert rejected[first["id"]][0] == "lines[1].amount" and '"lots"' in rejected[first["id"]][1]
    talk = next(t for t in talks if t.get("cc") and "oops" in t["cc"])
    assert rejected[talk["id"]][0] == "cc[1]"
    lease = next(x for x in data["leases"] if "d" * 24 in x.get("units", []))
    missing_unit = f"units[{len(lease['units']) - 1}]"
    field, message = rejected[lease["id"]]
    assert field == missing_unit and message.endswith(
        f"{missing_unit} {'d' * 24}: no such units record (missing, or itself rejected)"
    )
    waiting = {(table, column, target) for table, _, column, target in pending}
    assert ("normalized_lease_charges", "normalized_lease_charge_lines.account_id", "a" * 24) in waiting
    assert ("normalized_communications", "normalized_communication_participants.tenant_id", "b" * 24) in waiting
    assert ("normalized_properties", "normalized_property_owners.owner_id", "c" * 24) in waiting
    assert len(payloads) == len(dlq) and all(payload["id"] == i for i, payload in payloads)
    assert first_load == row_by_row


@pytest.mark.usefixtures("first_load_from_one_row")
def test_a_first_load_keeps_raw_loads_of_its_table_waiting_and_a_later_run_does_not(warehouse, small_dataset):
    """Its typing statements must read the same raw rows, so a load of them waits until it commits."""
    load_raw(warehouse, small_dataset)
    normalize_direct(warehouse)
    raw = TABLES[CHARGES].raw_table
    touch = f"UPDATE {raw} SET last_changed_at = last_changed_at WHERE id = (SELECT min(id) FROM {raw})"
    with warehouse.connect() as loader, warehouse.connect() as conn:
        charges = conn.execute(f"DELETE FROM {CHARGES}").rowcount  # empty again (no other table points at it)
        conn.execute("SET lock_timeout = '3s'")
        conn.commit()
        loader.execute(touch)
        with pytest.raises(psycopg.errors.LockNotAvailable):
            Normalizer(conn, CHARGES, "first-load").run()
        conn.rollback()
        loader.rollback()
        assert Normalizer(conn, CHARGES, "first-load").run().objects[CHARGES].inserted == charges > 0
        conn.commit()
        loader.execute(touch)
        assert Normalizer(conn, CHARGES, "later-run").run().candidates == 0
        conn.commit()
        loader.rollback()
