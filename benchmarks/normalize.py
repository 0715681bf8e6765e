"""Normalized-layer benchmark: a full normalize of a generated account, then a no-change re-run.

Run: ``.venv/bin/python benchmarks/normalize.py --scale medium``

Raw tables are filled by the real raw loader from an in-process sandbox (no Dagster, no
rate limits), then the normalized assets run through the Definitions twice. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

import dagster as dg

from altus_pipeline.definitions import build_definitions
from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.raw.load import DateRange, RawLoader
from altus_pipeline.resources import WarehouseResource
from altus_pipeline.runner import normalize
from altus_pipeline.sandbox.generator import generate_dataset
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig
from altus_pipeline.warehouse.db import Warehouse
from altus_pipeline.warehouse.migrations import migrate

EVERYTHING = DateRange(dt.date(2000, 1, 1), dt.date(2100, 1, 1))


def load_raw(warehouse: Warehouse, scale: str) -> int:
    """Fill every raw table through the raw loader; return the records loaded."""
    config = SandboxConfig(token="bench", rate_limit_per_minute=None, rate_limit_per_hour=None)
    loaded = 0
    with Sandbox(generate_dataset(scale), config) as server:
        client = DoorLoopClient(server.base_url, "bench", budget=LocalRateBudget(Limits(None, None)))
        with client, warehouse.connect() as conn:
            for entity in ENTITIES.values():
                result = RawLoader(conn, client, entity, "bench").load(EVERYTHING if entity.partitioned else None)
                conn.commit()
                loaded += result.rows_listed
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()

    base = Warehouse.from_env()
    warehouse = Warehouse(base.url, f"bench_{uuid.uuid4().hex[:8]}")
    migrate(warehouse)
    try:
        began = time.monotonic()
        raw_rows = load_raw(warehouse, args.scale)
        print(f"raw load: {raw_rows:,d} records in {time.monotonic() - began:.1f}s")
        defs = build_definitions(WarehouseResource(database_url=warehouse.url, schema_name=warehouse.schema))
        instance = dg.DagsterInstance.ephemeral()
        for label in ("full normalize", "no-change re-run"):
            began = time.monotonic()
            summary = normalize(defs, instance)
            seconds = time.monotonic() - began
            meta = summary.materializations.values()
            written = sum(m.get("inserted", 0) + m.get("updated", 0) + m.get("deleted", 0) for m in meta)
            rows = sum(m.get("dagster/row_count", 0) for m in meta)
            print(
                f"{label:18s} seconds {seconds:7.1f}  rows in tables {rows:>9,d}  rows written {written:>9,d}"
                f"  raw rows/s {raw_rows / seconds:>9,.0f}  success {summary.success}"
            )
    finally:
        with warehouse.connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{warehouse.schema}" CASCADE')


if __name__ == "__main__":
    main()
