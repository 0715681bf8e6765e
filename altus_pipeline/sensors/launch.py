"""Running the ``RunRequest``s of a sensor or schedule tick in this process.

The daemon launches them when the sensors run under ``dagster-daemon``; ``altus dlq retry
--now`` and the tests tick the sensor themselves and run what it asked for here, through
the same ``Definitions`` on the same instance, so the runs show in the UI.
"""

from __future__ import annotations

import dagster as dg

from altus_pipeline.runner import RunSummary, run_job

ASSET_JOB = "__ASSET_JOB"  # Dagster's implicit job over every asset of the Definitions


def launch(defs: dg.Definitions, request: dg.RunRequest, instance: dg.DagsterInstance) -> RunSummary:
    """Execute one ``RunRequest`` (asset selection, partition or range tags) in process."""
    keys = [k.to_user_string() for k in request.asset_selection or ()]
    tags = dict(request.tags)
    if request.partition_key:
        tags["dagster/partition"] = request.partition_key
    if request.run_key:
        tags["dagster/run_key"] = request.run_key
    return run_job(defs, ASSET_JOB, keys, instance, tags=tags, raise_on_error=False)
