"""The Dagster ``Definitions``: every asset, job and resource of the pipeline.

``build_definitions`` takes resources so tests can point the same graph at a sandbox
and a test database, and reads the settings (the partitions) when called, not when this
module is imported; ``defs`` is what ``dagster dev`` loads, lazily (``@dg.definitions``).
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.assets.kpis import SNAPSHOT, SUMMARY, build_kpi_assets
from altus_pipeline.assets.legal import LEGAL_KEYS, legal_assets
from altus_pipeline.assets.legal_export import legal_export_assets
from altus_pipeline.assets.normalized import NORMALIZED_KEYS, normalized_assets
from altus_pipeline.assets.raw import MASTER_KEYS, TRANSACTION_KEYS, build_raw_assets, derived_raw_assets
from altus_pipeline.assets.views import VIEW_KEYS, view_assets
from altus_pipeline.checks.kpis import kpi_checks, view_checks
from altus_pipeline.checks.legal import legal_checks
from altus_pipeline.checks.normalized import normalized_checks
from altus_pipeline.checks.raw import raw_checks
from altus_pipeline.checks.roadmap import roadmap_checks
from altus_pipeline.checks.steps import one_step_per_asset
from altus_pipeline.freshness import with_kpi_freshness
from altus_pipeline.partitions import daily_partitions
from altus_pipeline.resources import DoorLoopResource, LegalStoreResource, WarehouseResource
from altus_pipeline.retention import prune_schedule
from altus_pipeline.schedules import build_schedules
from altus_pipeline.sensors import build_sensors
from altus_pipeline.settings import TOKEN_VARIABLE

RAW_MASTER_JOB = "raw_master_data_job"
RAW_TRANSACTIONS_JOB = "raw_transactions_job"
NORMALIZED_JOB = "normalized_job"
KPI_JOB = "kpi_job"
VIEWS_JOB = "views_job"
LEGAL_JOB = "legal_import_job"


def build_definitions(
    warehouse: WarehouseResource | None = None,
    doorloop: DoorLoopResource | None = None,
    legal_store: LegalStoreResource | None = None,
    partitions: dg.PartitionsDefinition | None = None,
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, the daily ones by ``partitions`` (default:
    the settings' ``daily_partitions()`` as they are now)."""
    partitions = partitions or daily_partitions()
    jobs = [
        dg.define_asset_job(RAW_MASTER_JOB, selection=dg.AssetSelection.assets(*MASTER_KEYS)),
        dg.define_asset_job(RAW_TRANSACTIONS_JOB, selection=dg.AssetSelection.assets(*TRANSACTION_KEYS)),
        dg.define_asset_job(NORMALIZED_JOB, selection=dg.AssetSelection.assets(*NORMALIZED_KEYS)),
        dg.define_asset_job(KPI_JOB, selection=dg.AssetSelection.assets(SNAPSHOT)),
        dg.define_asset_job(VIEWS_JOB, selection=dg.AssetSelection.assets(SUMMARY, *VIEW_KEYS)),
        dg.define_asset_job(LEGAL_JOB, selection=dg.AssetSelection.assets(*LEGAL_KEYS)),
    ]
    assets = with_kpi_freshness(
        [
            *build_raw_assets(partitions),
            *derived_raw_assets,
            *normalized_assets,
            *legal_assets,
            *build_kpi_assets(partitions),
            *view_assets,
            *legal_export_assets,
        ]
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=one_step_per_asset(
            [*raw_checks, *normalized_checks, *legal_checks, *kpi_checks, *view_checks, *roadmap_checks(assets)]
        ),
        jobs=jobs,
        schedules=[*build_schedules(assets), prune_schedule],
        sensors=build_sensors(assets),
        resources={
            "warehouse": warehouse or WarehouseResource(),
            "doorloop": doorloop or DoorLoopResource(token=dg.EnvVar(TOKEN_VARIABLE)),
            "legal_store": legal_store or LegalStoreResource(),
        },
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The Definitions ``dagster dev`` and the daemon load, built from the settings at load time."""
    return build_definitions()
