"""What Dagster's own bookkeeping costs per partition of a ranged (single-run) backfill.

Run: ``.venv/bin/python benchmarks/dagster_partitions.py [--assets 3] [--days 755]``

A job of ``--assets`` partitioned assets that do nothing, backfilled over ``--days`` daily
partitions in one run, on three instances: Dagster's local SQLite storage, dagster-postgres
in the warehouse database, and dagster-postgres with the event settings ``altus`` applies
(``altus_pipeline.instance.EVENT_SETTINGS``). Only Dagster is measured: no DoorLoop, no SQL
of ours. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
import warnings
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=3)
    parser.add_argument("--days", type=int, default=755)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import dagster as dg

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
    for label, postgres, settings in (
        ("SQLite storage", False, {}),
        ("dagster-postgres", True, {}),
        ("dagster-postgres + event settings", True, EVENT_SETTINGS),
    ):
        for name in EVENT_SETTINGS:
            os.environ.pop(name, None)
        os.environ.update(settings)
        schema = f"bench_dagster_{uuid.uuid4().hex[:8]}"
        with tempfile.TemporaryDirectory() as home:
            if postgres:
                (Path(home) / "dagster.yaml").write_text(instance_yaml())
                os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url(schema)
                instance = dg.DagsterInstance.from_config(home)
            else:
                instance = dg.DagsterInstance.local_temp(home)
            began = time.monotonic()
            job.execute_in_process(instance=instance, tags=tags)
            seconds = time.monotonic() - began
            instance.dispose()
        if postgres:
            with warehouse.connect(autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        cells = len(keys) * args.assets
        print(
            f"{label:36s} {len(keys)} partitions x {args.assets} assets: {seconds:6.1f} s "
            f"({1000 * seconds / cells:5.1f} ms per partition per asset)"
        )


if __name__ == "__main__":
    main()
