"""Every table, view and column of a migrated warehouse carries a comment, from its one source."""

from __future__ import annotations

import time

from altus_pipeline.normalized.meaning import column_comments
from altus_pipeline.normalized.spec import TABLES
from altus_pipeline.warehouse.comments import header_comment, kpi_definitions
from altus_pipeline.warehouse.migrations import SQL_DIR, migrate

_UNCOMMENTED = """
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND obj_description(c.oid, 'pg_class') IS NULL
UNION ALL
SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1
"""


def _comment(conn, relation: str, column: str | None = None) -> str | None:
    if column is None:
        return conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", (relation,)).fetchone()[0]
    return conn.execute(
        "SELECT col_description(%s::regclass, attnum) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
        (relation, relation, column),
    ).fetchone()[0]


def test_every_table_view_and_column_has_a_comment(warehouse):
    with warehouse.connect() as conn:
        missing = [r[0] for r in conn.execute(_UNCOMMENTED)]
    assert missing == [], f"{len(missing)} without a comment: {', '.join(missing)}"


def test_comments_come_from_the_spec_the_kpi_doc_the_sql_files_and_the_columns_views_pass_through(warehouse):
    leases = TABLES["normalized_leases"]
    with warehouse.connect() as conn:
        assert _comment(conn, "normalized_leases") == leases.description
        assert _comment(conn, "normalized_leases", "property_id") == column_comments(leases)["property_id"]
        assert "normalized_properties.id" in _comment(conn, "normalized_leases", "property_id")
        assert (
            _comment(conn, "kpi_daily_snapshot", "units_total") == kpi_definitions()["units_total"] == "Rentable units."
        )
        assert _comment(conn, "doorloop_error_records") == header_comment(
            SQL_DIR / "ops" / "doorloop_error_records.sql"
        )
        assert _comment(conn, "doorloop_raw_leases", "payload")  # the raw template's note, on every raw table
        assert (
            _comment(conn, "get_full_units", "beds")
            == f"normalized_units.beds: {_comment(conn, 'normalized_units', 'beds')}"
        )
        assert _comment(conn, "kpi_summary", "units_total") == "kpi_daily_snapshot.units_total: Rentable units."


def test_a_migration_rewrites_only_comments_that_changed(warehouse):
    with warehouse.connect() as conn:
        conn.execute("COMMENT ON COLUMN get_full_units.beds IS 'stale'")
        conn.execute("COMMENT ON TABLE normalized_leases IS NULL")
    started = time.perf_counter()
    assert migrate(warehouse) == []
    assert time.perf_counter() - started < 2
    with warehouse.connect() as conn:
        assert _comment(conn, "get_full_units", "beds").startswith("normalized_units.beds: ")
        assert _comment(conn, "normalized_leases") == TABLES["normalized_leases"].description
