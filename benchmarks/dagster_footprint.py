"""What Dagster's own bookkeeping adds to the warehouse database, per full sync and per daily run.

Run: ``.venv/bin/python benchmarks/dagster_footprint.py [--scale small] [--partition-start 2021-01-01] [--stock]``

Dagster's tables live in the warehouse database (schema ``dagster``); on Supabase's free
tier that database is 500 MB in all. The sandbox runs in its own process (rate limits
off); the pipeline runs on the instance ``altus`` uses, with Dagster's tables in a schema
of their own, measured (tables, indexes and TOAST) after each step:

* full sync: ``altus sync`` (master data, then every partition reconciled), normalize,
  KPIs for every partition, views;
* a daily run: the daily schedule's run request (master data, the last 7 days, normalized,
  KPIs of those days, views), twice.

``--stock`` repeats the full sync on plain dagster-postgres storage, which records every
check of a ranged run once per day of its range. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

from ingest import _free_port, _wait_for

MB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--partition-start", help="ALTUS_PARTITION_START (default: where the generated history starts)")
    parser.add_argument("--stock", action="store_true", help="also measure a full sync on plain dagster-postgres")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES

    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES[args.scale].years, day=1)
    os.environ["ALTUS_PARTITION_START"] = args.partition_start or first_day.isoformat()

    import dagster as dg
    import yaml

    from altus_pipeline.definitions import build_definitions
    from altus_pipeline.doorloop.registry import ENTITIES
    from altus_pipeline.instance import apply_event_settings, instance_yaml
    from altus_pipeline.partitions import full_range
    from altus_pipeline.resources import DoorLoopResource, WarehouseResource
    from altus_pipeline.retention import schema_bytes
    from altus_pipeline.runner import kpis, normalize, refresh_views, sync_raw
    from altus_pipeline.schedules import DAILY_SCHEDULE
    from altus_pipeline.sensors.launch import launch
    from altus_pipeline.warehouse.db import Warehouse

    token, port = "bench-token", _free_port()
    altus = str(Path(sys.executable).with_name("altus"))
    sandbox = subprocess.Popen(
        [altus, "sandbox", "serve", "--scale", args.scale, "--port", str(port), "--token", token, "--no-rate-limit"],
        stdout=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/api"
        _wait_for(base_url, token)
        first, last = full_range()
        print(f"sandbox ({args.scale}); partitions {first}..{last}: {(last - first).days + 1:,d} days")
        base = Warehouse.from_env()
        apply_event_settings()
        schemas: list[str] = []  # dropped at the end: Dagster caches the first instance it loads Definitions with
        for storage in ("altus", "stock") if args.stock else ("altus",):
            warehouse = Warehouse(base.url, f"bench_{uuid.uuid4().hex[:8]}")
            dagster_schema = f"{warehouse.schema}_dagster"
            schemas += [warehouse.schema, dagster_schema]
            url = warehouse.dagster_storage_url(dagster_schema)
            defs = build_definitions(
                WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema),
                DoorLoopResource(base_url=base_url, token=token, rate_limit_per_minute=0, rate_limit_per_hour=0),
            )
            with tempfile.TemporaryDirectory() as home, warehouse.connect(autocommit=True) as conn:
                if storage == "altus":
                    os.environ["ALTUS_DAGSTER_STORAGE_URL"] = url
                    (Path(home) / "dagster.yaml").write_text(instance_yaml())
                else:
                    (Path(home) / "dagster.yaml").write_text(
                        yaml.safe_dump({"storage": {"postgres": {"postgres_url": url}}})
                    )
                instance = dg.DagsterInstance.from_config(home)

                def measure(label: str, step: Callable[[], object]) -> int:
                    before, began = schema_bytes(conn, dagster_schema), time.monotonic()
                    step()
                    added = schema_bytes(conn, dagster_schema) - before
                    print(f"  {label:34s} +{added / MB:7.2f} MB  ({time.monotonic() - began:5.1f} s)")
                    return added

                print(f"{storage} storage (schema {dagster_schema}):")
                total = sum(
                    (
                        measure("altus sync (reconcile)", lambda: sync_raw(defs, list(ENTITIES.values()), instance)),
                        measure("normalize", lambda: normalize(defs, instance)),
                        measure(f"KPIs {first}..{last}", lambda: kpis(defs, instance, (first, last))),
                        measure("views", lambda: refresh_views(defs, instance)),
                    )
                )
                print(f"  {'full sync':34s} +{total / MB:7.2f} MB")
                if storage == "altus":
                    schedule = defs.resolve_schedule_def(DAILY_SCHEDULE)
                    for n in (1, 2):
                        at = dt.datetime.now(dt.UTC) + dt.timedelta(days=n - 1)
                        [request] = schedule.evaluate_tick(
                            dg.build_schedule_context(instance=instance, scheduled_execution_time=at)
                        ).run_requests
                        daily = []
                        measure(f"daily run {n}", lambda: daily.append(launch(defs, request, instance)))
                    kinds = conn.execute(
                        f'SELECT dagster_event_type, count(*), sum(pg_column_size(event)) FROM "{dagster_schema}".event_logs '
                        "WHERE run_id = %s GROUP BY 1 ORDER BY 3 DESC LIMIT 5",
                        (daily[0].run_id,),
                    ).fetchall()
                    print(
                        "  daily run 2 events (stored size): "
                        + ", ".join(f"{kind} {n:,d} ({size / MB:.2f} MB)" for kind, n, size in kinds)
                    )
                rows = conn.execute(f'SELECT count(*) FROM "{dagster_schema}".asset_check_executions').fetchone()[0]
                largest = conn.execute(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 4",
                    (dagster_schema,),
                ).fetchall()
                print(
                    f"  schema {dagster_schema}: {schema_bytes(conn, dagster_schema) / MB:.2f} MB; "
                    f"{rows:,d} check-execution rows; largest: "
                    + ", ".join(f"{name} {size / MB:.2f} MB" for name, size in largest)
                )
                instance.dispose()
        with base.connect(autocommit=True) as conn:
            conn.execute("DROP SCHEMA " + ", ".join(f'"{s}"' for s in schemas) + " CASCADE")
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
