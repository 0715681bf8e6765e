"""What Dagster's own bookkeeping costs per partition of a ranged (single-run) backfill.

Run: ``.venv/bin/python benchmarks/dagster_partitions.py [--assets 10] [--days 1126] [--repetitions 3] [--sqlite]``

A job of ``--assets`` partitioned assets that do nothing, backfilled over ``--days`` daily
partitions in one run (the defaults: a reconcile of ``medium``'s transactions), on the
instances a user could pick, interleaved, both with the event settings the project applies
(``altus_pipeline.instance.EVENT_SETTINGS``: Dagster's own, batching a run's materializations;
without them stock dagster-postgres took 231 s for the defaults): stock dagster-postgres in the
warehouse database, and the project's instance (``dagster.yaml``:
``instance_storage.WarehouseStorage``); with ``--sqlite`` Dagster's local SQLite storage too
(minutes: it stores one event per statement). Only Dagster
and its storage are measured: no DoorLoop, no SQL of ours. Printed per instance: the run's
wall time (median) and the CPU of the PostgreSQL server it used. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--days", type=int, default=1126)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="measure Dagster's local SQLite storage too")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import dagster as dg
    import psutil
    from peers import server_cpu  # this folder is the script's, first on sys.path

    from altus_pipeline.instance import EVENT_SETTINGS, instance_yaml
    from altus_pipeline.warehouse.db import Warehouse

    end = dt.date(2026, 11, 26)
    parts = dg.DailyPartitionsDefinition(
        start_date=(end - dt.timedelta(days=args.days)).isoformat(), end_date=end.isoformat()
    )

    def empty_asset(i: int) -> dg.AssetsDefinition:
        @dg.asset(name=f"bench_{i}", partitions_def=parts, backfill_policy=dg.BackfillPolicy.single_run())
        def _asset() -> None:
            return None

        return _asset

    assets = [empty_asset(i) for i in range(args.assets)]
    job = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("bench", selection=assets)]).resolve_job_def("bench")
    keys = parts.get_partition_keys()
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    warehouse = Warehouse.from_env()
    with warehouse.connect(autocommit=True) as conn:
        server = psutil.Process(conn.info.backend_pid).parent()

    def stock_yaml(schema: str) -> str:
        """dagster-postgres as its documentation configures it, in a schema of its own."""
        return f"storage:\n  postgres:\n    postgres_url: {warehouse.dagster_storage_url(schema)!r}\n"

    instances: list[tuple[str, str | None]] = [
        ("dagster-postgres, stock", "stock"),
        ("the project's instance", "altus"),
    ]
    if args.sqlite:
        instances.insert(0, ("SQLite storage", None))
    walls: dict[str, list[float]] = {label: [] for label, _ in instances}
    cpus: dict[str, list[float]] = {label: [] for label, _ in instances}
    for _ in range(args.repetitions):
        for label, kind in instances:
            os.environ.update(EVENT_SETTINGS)
            schema = f"bench_dagster_{uuid.uuid4().hex[:8]}"
            with tempfile.TemporaryDirectory() as home:
                if kind is None:
                    instance = dg.DagsterInstance.local_temp(home)
                else:
                    os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url(schema)
                    yaml_text = stock_yaml(schema) if kind == "stock" else instance_yaml()
                    (Path(home) / "dagster.yaml").write_text(yaml_text)
                    instance = dg.DagsterInstance.from_config(home)
                job.execute_in_process(instance=instance, tags=tags)  # the storage's tables made once
                cpu, began = server_cpu(server), time.monotonic()
                job.execute_in_process(instance=instance, tags=tags)
                walls[label].append(time.monotonic() - began)
                cpus[label].append(server_cpu(server) - cpu)
                instance.dispose()
            if kind is not None:
                with warehouse.connect(autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    cells = len(keys) * args.assets
    print(f"{len(keys)} partitions x {args.assets} assets, medians of {args.repetitions}:")
    for label, _ in instances:
        seconds = statistics.median(walls[label])
        print(
            f"  {label:28s} {seconds:6.2f} s ({1e6 * seconds / cells:5.0f} us per partition per asset), "
            f"PostgreSQL CPU {statistics.median(cpus[label]):5.2f} s"
        )


if __name__ == "__main__":
    main()
