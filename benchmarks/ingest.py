"""Raw-layer ingest benchmark: a full sync of a generated account, then a no-change re-sync.

Run: ``.venv/bin/python benchmarks/ingest.py --scale medium``

The sandbox runs in its own process (rate limits off) so the peak RSS printed is the
pipeline's alone. Figures are printed, never asserted: targets live here, not in tests.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, token: str, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/accounts", headers={"Authorization": f"bearer {token}"}, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"sandbox at {url} did not answer within {seconds:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()

    from altus_pipeline.sandbox.generator import DEFAULT_AS_OF, SCALES

    first_day = DEFAULT_AS_OF.replace(year=DEFAULT_AS_OF.year - SCALES[args.scale].years, day=1)
    os.environ.setdefault("ALTUS_PARTITION_START", first_day.isoformat())

    import dagster as dg

    from altus_pipeline.definitions import build_definitions
    from altus_pipeline.doorloop.registry import ENTITIES
    from altus_pipeline.instance import apply_event_settings, instance_yaml
    from altus_pipeline.partitions import daily_partitions
    from altus_pipeline.resources import DoorLoopResource, WarehouseResource
    from altus_pipeline.runner import sync_raw
    from altus_pipeline.warehouse.db import Warehouse

    token, port = "bench-token", _free_port()
    altus = str(Path(sys.executable).with_name("altus"))
    sandbox = subprocess.Popen(
        [altus, "sandbox", "serve", "--scale", args.scale, "--port", str(port), "--token", token, "--no-rate-limit"],
        stdout=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}/api"
        started = time.monotonic()
        _wait_for(base_url, token)
        print(f"sandbox ({args.scale}) ready in {time.monotonic() - started:.1f}s")
        base = Warehouse.from_env()
        warehouse = Warehouse(base.url, f"bench_{uuid.uuid4().hex[:8]}")
        defs = build_definitions(
            WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema),
            DoorLoopResource(base_url=base_url, token=token, rate_limit_per_minute=0, rate_limit_per_hour=0),
        )
        partitions = len(daily_partitions().get_partition_keys())
        partitioned = [e for e in ENTITIES.values() if e.partitioned]
        dagster_schema = f"{warehouse.schema}_dagster"
        with tempfile.TemporaryDirectory() as home:
            # the instance the CLI runs on: dagster-postgres in the warehouse, event settings applied
            (Path(home) / "dagster.yaml").write_text(instance_yaml())
            os.environ["ALTUS_DAGSTER_STORAGE_URL"] = warehouse.dagster_storage_url(dagster_schema)
            apply_event_settings()
            instance = dg.DagsterInstance.from_config(home)
            for label in ("full sync", "no-change re-sync"):
                began = time.monotonic()
                summaries = sync_raw(defs, list(ENTITIES.values()), instance)
                seconds = time.monotonic() - began
                meta = [m for s in summaries for m in s.materializations.values() if "api_total" in m]
                records = sum(m["rows_listed"] for m in meta)
                used = sum(m["api_requests"] for m in meta)
                minimum = sum(max(1, math.ceil(m["api_total"] / 1000)) for m in meta)
                rewritten = sum(m["inserted"] + m["updated"] + m["soft_deleted"] for m in meta)
                loading = sum(m["seconds"] for m in meta)
                print(
                    f"{label:18s} records {records:>10,d}  seconds {seconds:8.1f}  records/s {records / seconds:>9,.0f}"
                    f"  API requests {used} (minimum {minimum})  rows rewritten {rewritten:,d}"
                )
                print(
                    f"{'':18s} of which listing + COPY + upsert {loading:.1f}s ({records / loading:,.0f} records/s);"
                    f" the rest is Dagster recording {partitions:,d} partitions x {len(partitioned)} assets"
                )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the pipeline process: {peak_mb:,.0f} MB")
        with warehouse.connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{warehouse.schema}", "{dagster_schema}" CASCADE')
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
