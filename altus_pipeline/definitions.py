"""The Dagster ``Definitions``: every asset, job and resource of the pipeline.

``build_definitions`` takes resources so tests can point the same graph at a sandbox
and a test database; ``defs`` is what ``dagster dev`` and the ``altus`` CLI load.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.assets.normalized import NORMALIZED_KEYS, normalized_assets
from altus_pipeline.assets.raw import doorloop_raw_work_orders, raw_assets
from altus_pipeline.checks.normalized import normalized_checks
from altus_pipeline.checks.raw import raw_checks
from altus_pipeline.checks.roadmap import roadmap_checks
from altus_pipeline.doorloop.registry import ENTITIES
from altus_pipeline.resources import DoorLoopResource, WarehouseResource

RAW_MASTER_JOB = "raw_master_data_job"
RAW_TRANSACTIONS_JOB = "raw_transactions_job"
NORMALIZED_JOB = "normalized_job"

_master_keys = [e.raw_table for e in ENTITIES.values() if not e.partitioned] + ["doorloop_raw_work_orders"]
_transaction_keys = [e.raw_table for e in ENTITIES.values() if e.partitioned]


def build_definitions(
    warehouse: WarehouseResource | None = None, doorloop: DoorLoopResource | None = None
) -> dg.Definitions:
    jobs = [
        dg.define_asset_job(RAW_MASTER_JOB, selection=dg.AssetSelection.assets(*_master_keys)),
        dg.define_asset_job(RAW_TRANSACTIONS_JOB, selection=dg.AssetSelection.assets(*_transaction_keys)),
        dg.define_asset_job(NORMALIZED_JOB, selection=dg.AssetSelection.assets(*NORMALIZED_KEYS)),
    ]
    assets = [*raw_assets, doorloop_raw_work_orders, *normalized_assets]
    return dg.Definitions(
        assets=assets,
        asset_checks=[*raw_checks, *normalized_checks, *roadmap_checks(assets)],
        jobs=jobs,
        resources={"warehouse": warehouse or WarehouseResource(), "doorloop": doorloop or DoorLoopResource()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
