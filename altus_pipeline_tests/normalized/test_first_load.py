"""A first load checks its foreign keys and builds its indexes once, at the end, as the migrations made them.

Into an empty table, the normalizer drops the foreign keys and secondary indexes of the
asset's tables, writes, and makes them again: one join validates every row of a key, one
sort builds an index, instead of a trigger and an index insert per row.
Later runs, which readers may overlap, keep the triggers and take no exclusive lock, as
does a load of fewer raw rows than ``FIRST_LOAD_ROWS`` (lowered here to the small dataset).
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from altus_pipeline.normalized import transform
from altus_pipeline.normalized.transform import Normalizer
from altus_pipeline.warehouse.constraints import checked_once
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

PAYMENTS = "normalized_lease_payments"
CHARGES = "normalized_lease_charges"

_FOREIGN_KEYS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE contype = 'f' AND connamespace = to_regnamespace(%s) ORDER BY 1, 2
"""


def _foreign_keys(wh: Warehouse) -> list[tuple]:
    with wh.connect() as conn:
        return conn.execute(_FOREIGN_KEYS, (wh.schema,)).fetchall()


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
    before, indexes = _foreign_keys(warehouse), _indexes(warehouse)
    assert len(before) > 40 and all(validated for *_, validated in before)
    assert any(name == f"{PAYMENTS}_lease_id_idx" for _, name, _ in indexes)
    load_raw(warehouse, small_dataset)
    results = normalize_direct(warehouse)
    assert results[PAYMENTS].objects[PAYMENTS].inserted > 100
    assert _foreign_keys(warehouse) == before
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
        for table, _, definition, validated in _foreign_keys(warehouse)
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
