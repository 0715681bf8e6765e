"""The reporting views refresh without blocking readers, proven from outside the refresh.

A second connection reads every materialized view (and ``kpi_summary``) in a transaction it
keeps open, so it holds their ACCESS SHARE locks; the views run then refreshes them with
``lock_timeout`` at 2 s for its own sessions (``PGOPTIONS``, read by libpq at connect). A
plain ``REFRESH`` needs ACCESS EXCLUSIVE and would give up on the first view; only
``REFRESH … CONCURRENTLY`` completes while the reader is still open.
"""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from altus_pipeline.assets.kpis import SUMMARY
from altus_pipeline.assets.views import VIEWS
from altus_pipeline.definitions import build_definitions
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import refresh_views
from altus_pipeline_tests.kpi.test_kpi_boundaries import boundary_dataset
from altus_pipeline_tests.normalized.test_normalized import normalize_direct
from altus_pipeline_tests.support.raw import load_raw

LOCK_TIMEOUT = "-c lock_timeout=2s"


def _relkinds(conn: psycopg.Connection) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('m', 'v')"
        ).fetchall()
    )


def test_views_refresh_while_a_reader_holds_them_open(warehouse, monkeypatch):
    load_raw(warehouse, boundary_dataset())
    normalize_direct(warehouse)
    defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
    instance = dg.DagsterInstance.ephemeral()
    first = refresh_views(defs, instance)  # populates them (a plain REFRESH: nobody can read them yet)
    assert first.success, first.errors

    with warehouse.connect() as reader:
        kinds = _relkinds(reader)
        materialized = sorted(name for name, kind in kinds.items() if kind == "m")
        assert set(VIEWS) <= set(materialized)
        assert kinds[SUMMARY] == "v"  # a plain view: nothing to refresh, its reader is held all the same
        held = {
            name: reader.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
            for name in [*materialized, SUMMARY]
        }
        assert held["get_full_units"] > 0

        monkeypatch.setenv("PGOPTIONS", LOCK_TIMEOUT)
        # the setup bites: a blocking refresh from a session like the run's gives up at once
        with warehouse.connect(autocommit=True) as other, pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("REFRESH MATERIALIZED VIEW get_full_units")

        second = refresh_views(defs, instance, raise_on_error=False)
        assert second.success, second.errors
        assert set(second.materializations) >= set(VIEWS)
        assert reader.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS  # still reading
        assert reader.execute("SELECT count(*) FROM get_full_units").fetchone()[0] == held["get_full_units"]
