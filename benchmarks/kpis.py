"""KPI benchmark: backfill 365 days of kpi_daily_snapshot in one run, then refresh every view.

Run: ``.venv/bin/python benchmarks/kpis.py --scale medium``

The generated account is loaded into the raw tables by the raw loader from an unpaced local
sandbox and normalized (the ingest benchmark measures the sync), in a throwaway schema of the embedded
PostgreSQL (or ``ALTUS_DATABASE_URL``). Then, through the Dagster Definitions on an
ephemeral instance: one ranged run of ``kpi_daily_snapshot`` over the 365 days up to the
generator's as-of date, and one run refreshing ``kpi_summary`` and every ``get_full_*`` view
(twice: the first populates, the second refreshes CONCURRENTLY). Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, generate_dataset

    end = DEFAULT_AS_OF - dt.timedelta(days=1)
    start = end - dt.timedelta(days=args.days - 1)
    os.environ.setdefault("ALTUS_PARTITION_START", (start - dt.timedelta(days=1)).isoformat())

    import dagster as dg
    import psycopg
    from psycopg import sql

    from altus_pipeline.definitions import build_definitions
    from altus_pipeline.resources import WarehouseResource
    from altus_pipeline.runner import kpis, refresh_views
    from altus_pipeline.warehouse.db import Warehouse
    from altus_pipeline.warehouse.migrations import migrate
    from altus_pipeline_tests.test_normalized import load_raw, normalize_direct

    base = Warehouse.from_env()
    wh = Warehouse(url=base.url, schema=f"bench_kpi_{uuid.uuid4().hex[:8]}")
    migrate(wh)
    try:
        clock = time.monotonic()
        load_raw(wh, generate_dataset(args.scale, seed=0))
        normalize_direct(wh)
        print(f"setup ({args.scale}: generate, raw, normalize): {time.monotonic() - clock:.1f}s")
        defs = build_definitions(WarehouseResource(database_url=wh.url, schema_name=wh.schema))
        instance = dg.DagsterInstance.ephemeral()

        clock = time.monotonic()
        summary = kpis(defs, instance, (start, end))
        wall = time.monotonic() - clock
        meta = summary.materializations["kpi_daily_snapshot"]
        print(f"kpi_daily_snapshot backfill {start}..{end} ({args.days} days, one run): {wall:.1f}s wall, "
              f"{meta['duration_seconds']}s in SQL, {meta['rows_written']} rows, checks "
              f"{'passed' if all(summary.checks.values()) else 'FAILED'}")
        for attempt in ("populate", "refresh concurrently"):
            clock = time.monotonic()
            views = refresh_views(defs, instance)
            wall = time.monotonic() - clock
            sql_seconds = sum(m.get("duration_seconds", 0) for m in views.materializations.values())
            print(f"views {attempt}: {wall:.1f}s wall, {sql_seconds:.1f}s in SQL, checks "
                  f"{'passed' if all(views.checks.values()) else 'FAILED'}")
    finally:
        with psycopg.connect(wh.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(wh.schema)))


if __name__ == "__main__":
    main()
