"""Raw rows written by the real raw loader: tests that need a raw state without a Dagster run.

``load_raw`` serves the dataset from a sandbox over HTTP and has ``RawLoader`` read each
named entity through the real client as one complete, unfiltered listing, so rows,
hashes, business dates, soft-deletes and ``touched_from`` are the loader's own (no test
carries a copy of its SQL that could drift from it). The sandbox pages without a rate
limit, so a small dataset loads in about a second.
"""

from __future__ import annotations

from collections.abc import Mapping

from altus_pipeline.doorloop.client import DoorLoopClient
from altus_pipeline.doorloop.ratelimit import Limits, LocalRateBudget
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.raw.load import LoadResult, RawLoader
from altus_pipeline.sandbox.server import Sandbox, SandboxConfig
from altus_pipeline.warehouse.db import Warehouse

_TOKEN = "support-load-raw"


def load_raw(wh: Warehouse, dataset: Mapping[str, list], run_id: str = "test-load") -> dict[str, LoadResult]:
    """Load each entity of ``dataset`` as a sync reads a complete listing of it, one commit each.

    Changed rows are written, unchanged ones left alone, and stored rows of that entity the
    listing no longer holds are soft-deleted. Entities not named are untouched.
    """
    server = Sandbox(dict(dataset), SandboxConfig(token=_TOKEN, rate_limit_per_minute=None, rate_limit_per_hour=None))
    server.start()
    results = {}
    try:
        budget = LocalRateBudget(Limits(per_minute=None, per_hour=None))
        with DoorLoopClient(server.base_url, _TOKEN, budget=budget) as client, wh.connect() as conn:
            for name in dataset:
                results[name] = RawLoader(conn, client, ENTITIES[name], run_id).load()
                conn.commit()
    finally:
        server.stop()
    return results
