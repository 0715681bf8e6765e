"""The raw id check: an index probe while ``id`` is the primary key, and a count of empty and
duplicate ids over the table once it is not."""

from __future__ import annotations

from altus_pipeline.checks.raw import build_raw_checks
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.resources import WarehouseResource


def test_the_id_check_counts_duplicates_once_id_is_no_longer_the_primary_key(warehouse):
    ids_unique_non_null, _ = build_raw_checks(ENTITIES["units"])
    resource = WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema)
    with warehouse.connect() as conn:
        conn.execute("INSERT INTO doorloop_raw_units (id, payload, content_hash) VALUES ('u1', '{}', 'h')")
        conn.commit()
    keyed = ids_unique_non_null(warehouse=resource)
    assert keyed.passed and keyed.metadata["duplicate_ids"].value == 0

    with warehouse.connect() as conn:  # the primary key holds an empty id: the index finds it
        conn.execute("INSERT INTO doorloop_raw_units (id, payload, content_hash) VALUES ('', '{}', 'h')")
        conn.commit()
    empty = ids_unique_non_null(warehouse=resource)
    assert not empty.passed
    assert {k: v.value for k, v in empty.metadata.items()} == {"null_or_empty_ids": 1, "duplicate_ids": 0}

    with warehouse.connect() as conn:
        conn.execute("ALTER TABLE doorloop_raw_units DROP CONSTRAINT doorloop_raw_units_pkey")
        conn.execute("INSERT INTO doorloop_raw_units (id, payload, content_hash) VALUES ('u1', '{}', 'h')")
        conn.commit()
    unkeyed = ids_unique_non_null(warehouse=resource)
    assert not unkeyed.passed
    assert {k: v.value for k, v in unkeyed.metadata.items()} == {"null_or_empty_ids": 1, "duplicate_ids": 1}
