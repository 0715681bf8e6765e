"""``altus kpis --stale``: the KPI history sensor's request, run now in this process.

Kept out of the sensor's module: the Definitions import the sensor, and running a request
needs the runner, which imports the Definitions.
"""

from __future__ import annotations

import dagster as dg
import psycopg

from altus_pipeline.kpi.stale import stale_kpis
from altus_pipeline.runner import RunSummary
from altus_pipeline.schedules import DOWNSTREAM_GROUPS, _keys_of_groups
from altus_pipeline.sensors.kpi_history import stale_request
from altus_pipeline.sensors.launch import launch


def recompute_stale(defs: dg.Definitions, instance: dg.DagsterInstance, conn: psycopg.Connection) -> RunSummary | None:
    """Recompute every stale KPI date (normalized, the range, the views) in one run; None when none is stale.

    Reads every audit row, not the sensor's cursor, so dates a failed or skipped recompute
    left stale are recomputed too.
    """
    request = stale_request(stale_kpis(conn), _keys_of_groups(list(defs.assets or ()), DOWNSTREAM_GROUPS))
    return None if request is None else launch(defs, request, instance)
